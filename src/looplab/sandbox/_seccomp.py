"""The seccomp filter every sandboxed program runs under, as classic BPF: bubblewrap installs it (`--seccomp`)
before the launcher starts, or, without bubblewrap, the launcher installs it in the program's process.

System calls a checked program has no use for fail with EPERM (tracing, mounts, namespaces, kernel keys, BPF,
perf, userfaultfd, kexec, modules). clone3 fails with ENOSYS, so the C library falls back to clone, whose flags
a filter can read: clone with a CLONE_NEW* flag fails too. Numbers per architecture; a system call made in
another architecture's convention (int 0x80, x32) fails as a whole.
"""
from __future__ import annotations

import functools
import os
import struct

_DENIED = {
    0xC000003E: {"clone": 56, "clone3": 435, "numbers": (  # x86_64
        101, 165, 166, 272, 308, 250, 248, 249, 321, 298, 323, 246, 320, 155, 161, 175, 313, 176, 169, 167, 168,
        163, 304, 310, 311, 428, 429, 430, 431, 432, 433, 442, 425)},
    0xC00000B7: {"clone": 220, "clone3": 435, "numbers": (  # aarch64
        117, 40, 39, 97, 268, 219, 217, 218, 280, 241, 282, 104, 294, 41, 51, 105, 273, 106, 142, 224, 225, 89,
        265, 270, 271, 428, 429, 430, 431, 432, 433, 442, 425)},
}
_CLONE_NEW = 0x7E020080  # CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWTIME


@functools.cache
def filter_program() -> bytes | None:
    """The filter as the kernel reads it (struct sock_filter records), or None on an architecture without a table
    (the namespaces and limits still hold there).

    >>> program = filter_program()
    >>> program is None or len(program) % 8 == 0
    True
    """
    arch = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}.get(os.uname().machine)
    if arch is None:
        return None
    table = _DENIED[arch]
    allow, eperm, enosys = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38
    code = []  # (code, jump if true, jump if false, k); jumps count instructions to skip

    def ret(value):
        code.append((0x06, 0, 0, value))

    numbers = table["numbers"]
    code.append((0x20, 0, 0, 4))                    # A = arch
    code.append((0x15, 1, 0, arch))                 # the expected architecture: go on
    ret(eperm)
    code.append((0x20, 0, 0, 0))                    # A = system call number
    code.append((0x35, len(numbers) + 7, 0, 0x40000000))  # x32 numbers: to the deny at the end
    for i, number in enumerate(numbers):
        code.append((0x15, len(numbers) + 6 - i, 0, number))  # to the deny at the end
    code.append((0x15, 2, 0, table["clone3"]))
    code.append((0x15, 2, 0, table["clone"]))
    ret(allow)
    ret(enosys)
    code.append((0x20, 0, 0, 16))                   # A = low word of clone's flags
    code.append((0x45, 1, 0, _CLONE_NEW))           # a new namespace: deny
    ret(allow)
    ret(eperm)
    return b"".join(struct.pack("<HBBI", *instruction) for instruction in code)
