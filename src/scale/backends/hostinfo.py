"""What this host has: cpus, memory, disk of the data directory, NVIDIA GPUs.

The local backend offers what is free of these (DESIGN §4). Memory and disk already used by
other processes when the scheduler starts are *unavailable* to us, so they are measured here
once and subtracted from what the backend offers. Parsing is kept in pure functions over text
so it can be tested without the files or binaries of a particular machine.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

MEMINFO_PATH = Path("/proc/meminfo")
NVIDIA_SMI_TIMEOUT_S = 10.0
_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class HostTotals:
    """The host's capacity and what others used of it at start. Memory and disk are in MiB.

    ``gpus`` holds the NVIDIA device indices (what ``CUDA_VISIBLE_DEVICES`` takes), not a count.
    """

    cpus: float
    mem_mib: float
    disk_mib: float
    gpus: tuple[int, ...] = ()
    mem_used_by_others_mib: float = 0.0
    disk_used_by_others_mib: float = 0.0


def parse_meminfo(text: str) -> tuple[float, float]:
    """Return (MemTotal, MemAvailable) in MiB from the text of ``/proc/meminfo``.

    Kernels older than 3.14 have no MemAvailable; MemFree + Buffers + Cached is the usual
    estimate there. Raises ValueError when MemTotal is missing, since nothing sensible can be
    offered without it.
    """
    values_kib: dict[str, float] = {}
    for line in text.splitlines():
        name, sep, rest = line.partition(":")
        if not sep:
            continue
        fields = rest.split()
        if not fields:
            continue
        try:
            values_kib[name.strip()] = float(fields[0])
        except ValueError:
            continue
    if "MemTotal" not in values_kib:
        raise ValueError("no MemTotal line in meminfo")
    total = values_kib["MemTotal"]
    if "MemAvailable" in values_kib:
        available = values_kib["MemAvailable"]
    else:
        available = sum(values_kib.get(name, 0.0) for name in ("MemFree", "Buffers", "Cached"))
    return total / 1024.0, min(available, total) / 1024.0


def parse_gpu_indices(text: str) -> tuple[int, ...]:
    """Parse ``nvidia-smi --query-gpu=index --format=csv,noheader`` output: one index a line.

    Raises ValueError on any line that is not an integer (an error message printed by a broken
    driver must not become a GPU).
    """
    indices: list[int] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        index = int(stripped)
        if index < 0:
            raise ValueError(f"negative GPU index {index}")
        indices.append(index)
    return tuple(sorted(set(indices)))


def detect_gpu_indices(nvidia_smi: str | None = None) -> tuple[int, ...]:
    """The NVIDIA GPU indices of this host, or () when there is no working ``nvidia-smi``.

    Any failure (binary missing, non-zero exit, timeout, unparsable output) means no GPUs: the
    scheduler must still start on a host with a broken driver, it just offers no GPUs.
    """
    binary = nvidia_smi or shutil.which("nvidia-smi")
    if binary is None:
        return ()
    try:
        result = subprocess.run(
            [binary, "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=NVIDIA_SMI_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        logger.warning("nvidia-smi failed, offering no GPUs: %s", exc)
        return ()
    if result.returncode != 0:
        logger.warning("nvidia-smi exited %s, offering no GPUs: %s", result.returncode, result.stderr.strip())
        return ()
    try:
        return parse_gpu_indices(result.stdout)
    except ValueError as exc:
        logger.warning("unexpected nvidia-smi output, offering no GPUs: %s", exc)
        return ()


def detect_host_totals(data_dir: Path, *, meminfo_path: Path = MEMINFO_PATH) -> HostTotals:
    """Measure this host now. ``data_dir`` is created if missing; its file system is the disk."""
    data_dir.mkdir(parents=True, exist_ok=True)
    mem_total, mem_available = parse_meminfo(meminfo_path.read_text())
    usage = shutil.disk_usage(data_dir)
    return HostTotals(
        cpus=float(os.cpu_count() or 1),
        mem_mib=mem_total,
        disk_mib=usage.total / _MIB,
        gpus=detect_gpu_indices(),
        mem_used_by_others_mib=max(mem_total - mem_available, 0.0),
        disk_used_by_others_mib=usage.used / _MIB,
    )
