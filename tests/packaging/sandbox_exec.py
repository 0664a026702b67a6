#!/usr/bin/env python3
"""Runs a command under the process restrictions of a systemd unit, without systemd.

  sandbox_exec.py --unit mir-broker.service --user mir -- /usr/bin/mir-broker --config ...

The packaging test uses it to show that mir-broker and mir-console, as
packaged, run under the seccomp rules of packaging/mir-broker.service and
packaging/mir-console.service: it cannot start the units themselves where
systemd is not PID 1 (a build machine, a container, a chroot).
From the unit file it reads and applies, as systemd 252 does:

  User=/Group= (here --user)  setgroups, setresgid, setresuid
  UMask=                      umask
  WorkingDirectory=           chdir
  NoNewPrivileges=            PR_SET_NO_NEW_PRIVS
  SystemCallFilter=           a seccomp allow list (the groups expanded by
                              `systemd-analyze syscall-filter`, the ~lists
                              taken out); anything else kills the process
                              with SIGSYS, like systemd's default action
  SystemCallArchitectures=native  (the filter is for the native ABI only)
  MemoryDenyWriteExecute=     systemd's seccomp rules (no mmap with PROT_WRITE
                              and PROT_EXEC, no mprotect/pkey_mprotect adding
                              PROT_EXEC, no shmat with SHM_EXEC: EPERM) and, if
                              the kernel has it (6.3+), PR_SET_MDWE as well
  RestrictAddressFamilies=    socket() with another family: EAFNOSUPPORT

The file system settings (ProtectSystem=, PrivateTmp=, PrivateDevices=,
ReadWritePaths=, ...) are mounts: the caller makes them (tests/packaging/
install_test.sh does, in its own mount namespace). Not emulated: the
capability bounding set (the process is not root, so it has none anyway),
RestrictNamespaces=, RestrictRealtime=, RestrictSUIDSGID=, LockPersonality=,
ProtectKernel*=, ProtectClock=, ProtectHostname=, ProtectProc=: each forbids
something the broker and the console never try, and forbidding it cannot
make them fail where they work here.
"""

import argparse
import ctypes
import ctypes.util
import errno
import grp
import os
import pwd
import subprocess
import sys

PR_SET_NO_NEW_PRIVS = 38
PR_SET_MDWE = 65
PR_MDWE_REFUSE_EXEC_GAIN = 1

SCMP_ACT_KILL_PROCESS = 0x80000000
SCMP_ACT_ALLOW = 0x7FFF0000


def SCMP_ACT_ERRNO(e):
    return 0x00050000 | (e & 0xFFFF)


SCMP_CMP_EQ = 4
SCMP_CMP_MASKED_EQ = 7
PROT_WRITE, PROT_EXEC, SHM_EXEC = 0x2, 0x4, 0o100000
AF_NAMES = {"AF_UNIX": 1, "AF_LOCAL": 1, "AF_INET": 2, "AF_INET6": 10, "AF_NETLINK": 16,
            "AF_PACKET": 17}
AF_MAX = 46


class ScmpArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def die(message):
    print(f"sandbox_exec: {message}", file=sys.stderr)
    sys.exit(125)


class Seccomp:
    def __init__(self, lib, default_action):
        self.lib = lib
        self.ctx = lib.seccomp_init(default_action)
        if not self.ctx:
            die("seccomp_init failed")

    def nr(self, name):
        return self.lib.seccomp_syscall_resolve_name(name.encode())

    def add(self, action, name, *conditions):
        nr = self.nr(name)
        if nr < 0:
            return False  # not a syscall of this architecture: systemd skips it too
        array = (ScmpArgCmp * max(1, len(conditions)))(*conditions)
        rc = self.lib.seccomp_rule_add_array(self.ctx, ctypes.c_uint32(action), nr,
                                             len(conditions), array)
        if rc != 0 and rc != -errno.EEXIST:
            die(f"seccomp_rule_add({name}) failed: {rc}")
        return True

    def load(self):
        rc = self.lib.seccomp_load(self.ctx)
        if rc != 0:
            die(f"seccomp_load failed: {rc}")


def read_unit(path):
    settings = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", ";", "[")) or "=" not in line:
                continue
            key, value = line.split("=", 1)
            settings.append((key.strip(), value.strip()))
    return settings


def syscall_groups():
    out = subprocess.run(["systemd-analyze", "syscall-filter"], check=True,
                         capture_output=True, text=True).stdout
    groups, current = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.strip(), [])
        elif line.startswith("    ") and current is not None:
            item = line.strip()
            if item and not item.startswith("#"):
                current.append(item)
        elif not line.strip():
            current = None
    return groups


def expand(items, groups):
    result = set()
    for item in items:
        if item.startswith("@"):
            if item not in groups:
                die(f"unknown syscall group {item}")
            result |= expand(groups[item], groups)
        else:
            result.add(item)
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--unit", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--no-mdwe-prctl", action="store_true")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        die("no command")

    settings = read_unit(args.unit)
    groups = syscall_groups()
    lib = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.POINTER(ScmpArgCmp)]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    libc = ctypes.CDLL(None, use_errno=True)

    # The allow list, in systemd's order: the first line decides allow or
    # deny mode; later allow lines add, ~lines take out.
    allowed, denied, allow_mode = set(), set(), None
    families, mdwe, umask, nnp, workdir = None, False, None, False, None
    for key, value in settings:
        if key == "SystemCallFilter":
            deny = value.startswith("~")
            items = expand(value.lstrip("~").split(), groups)
            if allow_mode is None:
                allow_mode = not deny
            if deny:
                allowed -= items
                denied |= items
            else:
                allowed |= items
                denied -= items
        elif key == "RestrictAddressFamilies":
            families = {AF_NAMES[name] for name in value.split()}
        elif key == "MemoryDenyWriteExecute":
            mdwe = value in ("true", "yes", "1", "on")
        elif key == "UMask":
            umask = int(value, 8)
        elif key == "WorkingDirectory":
            workdir = value
        elif key == "NoNewPrivileges":
            nnp = value in ("true", "yes", "1", "on")

    user = pwd.getpwnam(args.user)
    os.setgroups([user.pw_gid])
    os.setresgid(user.pw_gid, user.pw_gid, user.pw_gid)
    os.setresuid(user.pw_uid, user.pw_uid, user.pw_uid)
    os.environ.update(HOME=user.pw_dir, USER=user.pw_name, LOGNAME=user.pw_name)
    if umask is not None:
        os.umask(umask)
    if workdir:
        os.chdir(workdir)
    # seccomp needs NO_NEW_PRIVS from a process without CAP_SYS_ADMIN anyway.
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        die("PR_SET_NO_NEW_PRIVS failed")
    if not nnp:
        print("sandbox_exec: note: the unit lacks NoNewPrivileges=, set anyway for seccomp",
              file=sys.stderr)

    applied = []
    if mdwe:
        if not args.no_mdwe_prctl:
            if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) == 0:
                applied.append("PR_SET_MDWE")
        f = Seccomp(lib, SCMP_ACT_ALLOW)
        eperm = SCMP_ACT_ERRNO(errno.EPERM)
        wx = PROT_WRITE | PROT_EXEC
        f.add(eperm, "mmap", ScmpArgCmp(2, SCMP_CMP_MASKED_EQ, wx, wx))
        f.add(eperm, "mmap2", ScmpArgCmp(2, SCMP_CMP_MASKED_EQ, wx, wx))
        f.add(eperm, "mprotect", ScmpArgCmp(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC))
        f.add(eperm, "pkey_mprotect", ScmpArgCmp(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC))
        f.add(eperm, "shmat", ScmpArgCmp(2, SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC))
        f.load()
        applied.append("MemoryDenyWriteExecute")
    if families is not None:
        f = Seccomp(lib, SCMP_ACT_ALLOW)
        for family in range(AF_MAX):
            if family not in families:
                f.add(SCMP_ACT_ERRNO(errno.EAFNOSUPPORT), "socket",
                      ScmpArgCmp(0, SCMP_CMP_EQ, family, 0))
        f.load()
        applied.append("RestrictAddressFamilies")
    if allow_mode is not None:
        # Last, so that nothing above is refused by it.
        if allow_mode:
            f = Seccomp(lib, SCMP_ACT_KILL_PROCESS)
            known = sum(f.add(SCMP_ACT_ALLOW, name) for name in sorted(allowed))
        else:
            f = Seccomp(lib, SCMP_ACT_ALLOW)
            known = sum(f.add(SCMP_ACT_KILL_PROCESS, name) for name in sorted(denied))
        f.load()
        applied.append(f"SystemCallFilter ({known} syscalls {'allowed' if allow_mode else 'denied'})")
    print(f"sandbox_exec: as {args.user} in {workdir or os.getcwd()}, umask {umask:04o}, "
          "NoNewPrivileges, "
          + ", ".join(applied), file=sys.stderr, flush=True)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
