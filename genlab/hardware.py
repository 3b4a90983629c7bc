"""What this machine's CPU offers, read once from Linux's /proc/cpuinfo (elsewhere nothing is known)."""
from __future__ import annotations

import functools


@functools.cache
def cpuinfo() -> str:
    """/proc/cpuinfo's text, or "" where it cannot be read."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as text:
            return text.read()
    except OSError:
        return ""


def _fields(text: str, *names: str) -> list[str]:
    """The values of the named fields (lower case) in a /proc/cpuinfo text, in order."""
    found = []
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() in names:
            found.append(value.strip())
    return found


def cpuinfo_lists_bf16(text: str) -> bool:
    """Whether a /proc/cpuinfo text lists bf16 arithmetic in hardware: the x86 flags avx512_bf16 or
    amx_bf16, or ARM's bf16 feature."""
    return any({"avx512_bf16", "amx_bf16", "bf16"} & set(value.split()) for value in _fields(text, "flags", "features"))


def cpuinfo_vendor(text: str) -> str:
    """The CPU's vendor in a /proc/cpuinfo text ("GenuineIntel", "AuthenticAMD", ...; "" if none)."""
    return next(iter(_fields(text, "vendor_id")), "")


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether this machine's CPU computes in bf16 natively (False where it cannot be told). Without
    those instructions oneDNN emulates bf16 and a step gets slower, not faster."""
    return cpuinfo_lists_bf16(cpuinfo())


@functools.cache
def cpu_vendor() -> str:
    """This machine's CPU vendor ("" where it cannot be told)."""
    return cpuinfo_vendor(cpuinfo())
