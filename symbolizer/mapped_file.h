// Finding, from the agent, the very file a /proc/PID/maps entry maps, whichever mount namespace or
// chroot the target is in.
//
// /proc/PID/maps names files as seen from the *reader's* root: for a chrooted target it shows
// /srv/jail/usr/lib/libc.so.6, which /proc/PID/root (the jail) + that path does not reach; for a
// target in another mount namespace the path may exist only there (then /proc/PID/root + path
// reaches it, through the target's mounts). /proc/PID/map_files/START-END opens the mapped file
// whatever the namespaces, but only with CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE, so it is one
// candidate among others, not the only way. Whatever path is tried, the file opened must be the
// one mapped: its inode (and device) are compared with those the maps entry gives, so a profile
// is never symbolized with another file that happens to sit at the same path.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "symbolizer/proc_maps.h"

namespace pprofd::symbolizer {

// How a file the agent can stat relates to the file a maps entry names.
enum class FileMatch {
  kOther,      // another file: never use it
  kSameInode,  // same inode on another device number: overlayfs, whose stat device can differ
               // from the one maps shows on older kernels (the real upper or lower file's)
  kSame,       // same device and inode
};

// Compares what stat() says of a candidate (`st_dev` as the C library encodes it) with the
// device and inode of `entry`. Pure.
FileMatch MatchMappedFile(const MapEntry& entry, dev_t st_dev, ino_t st_ino);

// The path of a maps entry ("/srv/jail/usr/lib/libc.so.6", " (deleted)" already stripped) as the
// target names it under its own root, given the target's root as the agent sees it
// (readlink /proc/PID/root: "/srv/jail"; "/" for a target that is not chrooted, or whose root is
// not reachable from the agent's, as in a container, where maps paths are already relative to the
// target's root). Pure.
std::string PathInTargetRoot(std::string_view maps_path, std::string_view root_link);

// Strips the " (deleted)" the kernel appends to a file replaced or removed since it was mapped.
// Returns whether it was there.
bool StripDeletedSuffix(std::string* path);

struct MappedFile {
  std::string open_path;     // what the agent opens: /proc/PID/root/..., /proc/PID/map_files/...
  std::string path_in_root;  // the file as the target names it ("/usr/lib/libc.so.6")
  FileMatch match = FileMatch::kOther;
};

// readlink /proc/PID/root: the target's root as the agent sees it; "/" when unreadable.
std::string TargetRootLink(pid_t pid);

// The first of these that is the mapped file: /proc/PID/root + the path in the target's root,
// /proc/PID/map_files/START-END (first for a deleted file), the maps path as the agent sees it. An
// exact match (device and inode) wins over a same-inode one. nullopt when none is the mapped
// file, or `entry` maps no file by path.
std::optional<MappedFile> LocateMappedFile(pid_t pid, const MapEntry& entry,
                                           std::string_view root_link);

}  // namespace pprofd::symbolizer
