#!/bin/sh
# Runs inside the VM guest at boot (pprofd-vmtest.service, systemd as PID 1), from the payload disk
# mounted at /payload. Installs the .deb, runs pprofd against the demo workload by hand and as the
# template unit, and records every answer under /payload/results for the host to check
# (check_results.sh): codes.txt has lines "NAME HTTP_CODE", NAME.body the body, NAME.log logs.
# It asserts nothing itself: the host decides, so one failure does not hide the next.
set -u
out=/payload/results
rm -rf "$out"
mkdir -p "$out"
exec >"$out/guest.log" 2>&1
set -x
uname -r >"$out/uname.txt"
# Debian's upstream version (the release hides it), as pprofd's freeze-bug check reads it.
uname -v >"$out/uname_v.txt"
sysctl -n kernel.perf_event_paranoid >"$out/perf_event_paranoid.txt"
cat /proc/cmdline
step() { echo "$(date +%s) $*" >>"$out/steps.txt"; echo "vmtest: $*" >/dev/console; }

# GET $2 into $1.body, its code into codes.txt.
fetch() {
  name="$1"
  url="$2"
  code="$(curl -sS --max-time "${3:-180}" -o "$out/$name.body" -w '%{http_code}' "$url" 2>>"$out/curl.log")"
  echo "$name ${code:-000}" >>"$out/codes.txt"
}
# Waits until pprofd answers /healthz (TCG: start-up takes seconds), or until process $1 (when
# given) has exited.
wait_healthy() {
  for _ in $(seq 1 120); do
    if curl -sf --max-time 5 -o /dev/null http://127.0.0.1:6060/healthz; then return 0; fi
    if [ -n "${1:-}" ] && ! kill -0 "$1" 2>/dev/null; then return 1; fi
    sleep 1
  done
  return 1
}

step install
dpkg -i /payload/pprofd.deb >"$out/dpkg.log" 2>&1
echo "dpkg $?" >>"$out/codes.txt"
# The package lowers Debian's 3 to 2 (/usr/lib/sysctl.d/60-pprofd.conf).
sysctl -n kernel.perf_event_paranoid >"$out/perf_event_paranoid_after_install.txt"
install -m 0755 /payload/pprofd-demo /usr/local/bin/pprofd-demo

# 1. By hand, as root, against the demo workload.
step manual
/usr/local/bin/pprofd-demo &
demo=$!
sleep 1
# Under TCG the demo runs ~10x slower: sample every 4 KiB and every wait, so 5 s windows hold
# enough samples for their content to be checked.
rates="--heap-rate 4096 --offcpu-rate 1"
# Without tracefs, as in containers and minimal hosts: in a mount namespace of its own (unshare's
# default propagation is private), empty tmpfs cover both places libbpf looks for tracepoint ids;
# every endpoint below must work there (the off-CPU programs attach by BTF id).
# shellcheck disable=SC2016
unshare --mount sh -c 'mount -t tmpfs none /sys/kernel/tracing && mount -t tmpfs none /sys/kernel/debug &&
  if [ -e /sys/kernel/tracing/events ] || [ -e /sys/kernel/debug/tracing/events ]; then echo "tracefs still visible" >&2; exit 1; fi &&
  echo "tracefs hidden" >&2 && exec "$@"' sh \
  pprofd --pid "$demo" --log-level debug $rates >"$out/manual.log" 2>&1 &
agent=$!
if wait_healthy "$agent"; then echo "manual_start 200" >>"$out/codes.txt"; else echo "manual_start 000" >>"$out/codes.txt"; fi
fetch profile 'http://127.0.0.1:6060/debug/pprof/profile?seconds=5'
fetch threads 'http://127.0.0.1:6060/debug/pprof/threads'
fetch threads_debug2 'http://127.0.0.1:6060/debug/pprof/threads?debug=2'
fetch metrics 'http://127.0.0.1:6060/metrics'
fetch symbol 'http://127.0.0.1:6060/debug/pprof/symbol'
fetch heap_no_flag 'http://127.0.0.1:6060/debug/pprof/heap'
fetch heap_window 'http://127.0.0.1:6060/debug/pprof/heap?seconds=5'
fetch block 'http://127.0.0.1:6060/debug/pprof/block?seconds=5'
fetch mutex 'http://127.0.0.1:6060/debug/pprof/mutex?seconds=5'
kill "$agent"
wait "$agent"
echo "manual_exit $?" >>"$out/codes.txt"

# 2. --heap: tracked from start-up.
step heap_flag
pprofd --pid "$demo" --heap $rates >"$out/heap_flag.log" 2>&1 &
agent=$!
if wait_healthy "$agent"; then echo "heap_flag_start 200" >>"$out/codes.txt"; else echo "heap_flag_start 000" >>"$out/codes.txt"; fi
sleep 5
fetch heap_flag 'http://127.0.0.1:6060/debug/pprof/heap'
kill "$agent"
wait "$agent"
kill "$demo"
wait "$demo"

# 3. The template unit against a demo service, with the unit's hardening, at Debian's default
#    perf_event_paranoid.
step systemd
cat >/etc/systemd/system/demo.service <<'EOF'
[Unit]
Description=pprofd demo workload
[Service]
ExecStart=/usr/local/bin/pprofd-demo
EOF
systemctl daemon-reload
# Every libbpf line in the unit's journal (the package's /etc/default/pprofd is all comments).
echo "PPROFD_OPTS=\"--log-level debug $rates\"" >>/etc/default/pprofd
systemctl start demo.service
systemctl enable --now pprofd@demo.service >"$out/enable.log" 2>&1
echo "unit_enable $?" >>"$out/codes.txt"
if wait_healthy; then echo "unit_start 200" >>"$out/codes.txt"; else echo "unit_start 000" >>"$out/codes.txt"; fi
systemctl show -p MainPID --value demo.service >"$out/unit_demo_pid1.txt"
pid="$(systemctl show -p MainPID --value pprofd@demo.service)"
cat "/proc/$pid/status" >"$out/unit_status.txt" 2>&1
# Debian's default paranoid: the answer names the sysctl and the fix.
sysctl -q -w kernel.perf_event_paranoid=3
fetch unit_profile_paranoid3 'http://127.0.0.1:6060/debug/pprof/profile?seconds=2'
sysctl -q -w kernel.perf_event_paranoid=2
fetch unit_profile 'http://127.0.0.1:6060/debug/pprof/profile?seconds=5'
fetch unit_heap 'http://127.0.0.1:6060/debug/pprof/heap?seconds=5'
fetch unit_mutex 'http://127.0.0.1:6060/debug/pprof/mutex?seconds=5'
step restart
systemctl restart demo.service
systemctl show -p MainPID --value demo.service >"$out/unit_demo_pid2.txt"
# pprofd follows the new process on its own; wait until it serves it (TCG: seconds).
for _ in $(seq 1 60); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 http://127.0.0.1:6060/debug/pprof/threads)" = 200 ] && break
  sleep 1
done
fetch unit_profile2 'http://127.0.0.1:6060/debug/pprof/profile?seconds=5'
systemctl status --no-pager pprofd@demo.service >"$out/unit_systemctl_status.txt" 2>&1
journalctl -b --no-pager -u pprofd@demo.service >"$out/unit_journal.txt" 2>&1
step done
journalctl -b --no-pager >"$out/journal.txt" 2>&1
echo "guest_done 0" >>"$out/codes.txt"
sync
