#!/bin/sh
# Writes pprofd(1), gzipped (-9n, as Debian wants it), from `pprofd --help`, so the manual page never drifts from the
# options the binary accepts (Debian policy 12.1: every program in /usr/bin has one).
# Usage: make_manpage.sh PPROFD_BINARY VERSION OUT.gz
set -eu
help="$("$1" --help)"
exec >"$3.tmp"
# roff: a backslash is \e; a line starting with . or ' is a request unless escaped with \&.
escape() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/" -e 's/-/\\-/g'; }
cat <<EOT
.TH PPROFD 1 "" "pprofd $2" "User Commands"
.SH NAME
pprofd \- serve Go-style /debug/pprof/ profiles of a running native process
.SH SYNOPSIS
.nf
$(printf '%s\n' "$help" | head -1 | sed 's/^usage: //' | escape)
.fi
.SH DESCRIPTION
.nf
$(printf '%s\n' "$help" | tail -n +3 | escape)
.fi
.SH FILES
.TP
.I /etc/default/pprofd
PPROFD_TARGET and PPROFD_OPTS of the systemd units pprofd.service and pprofd@.service.
.SH SEE ALSO
.BR go (1),
.BR systemctl (1);
/usr/share/doc/pprofd/README.md and /usr/share/doc/pprofd/docs/service.md.
EOT
exec >&2
gzip -9nc "$3.tmp" >"$3"
rm -f "$3.tmp"
