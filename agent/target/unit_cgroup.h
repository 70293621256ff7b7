// The main process of a systemd unit found from its cgroup, without asking systemd: systemd puts
// every service in a cgroup named after the unit (/sys/fs/cgroup/system.slice/nginx.service), and
// /sys/fs/cgroup is readable by anyone. `systemctl show` needs the system bus, which a unit with
// DynamicUser=yes (pprofd@.service) cannot reach; this needs no privilege and no bus.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace pprofd::target {

// "nginx" -> "nginx.service"; a name with a type suffix stays as it is. Fails for names that are
// not unit names (empty, '/', "." or "..").
StatusOr<std::string> UnitFileName(std::string_view unit);

struct UnitProcess {
  pid_t pid = 0;
  pid_t ppid = 0;
};

// The unit's main process among the processes of its cgroup: the one whose parent is outside the
// cgroup (systemd forked it, or it was reparented to PID 1 after a daemon's double fork). Every
// other process descends from it. Fails when there is none (no process) or several (which one is
// main only systemd knows: the caller then asks systemctl).
StatusOr<pid_t> PickUnitMainPid(const std::vector<UnitProcess>& processes);

// The cgroup directory of `unit_file` (from UnitFileName) under `cgroup_root` (the cgroup2 mount,
// or systemd's named v1 hierarchy), searched a few levels deep (slices nest); empty when absent.
std::string FindUnitCgroup(const std::string& cgroup_root, const std::string& unit_file);

// The main PID of `unit` from its cgroup under /sys/fs/cgroup (cgroup v2, or the v1 "systemd"
// hierarchy of hybrid hosts).
StatusOr<pid_t> UnitMainPidFromCgroup(std::string_view unit);

}  // namespace pprofd::target
