"""This process's memory, for tests that bound what a run of theirs may grow by (Linux)."""

from live_explain.realtime.bench import peak_rss_mb


def reset_peak_rss() -> bool:
    """Start this process's peak RSS (VmHWM) afresh, so that the peak read at the end is this
    test's, not that of an earlier test in the same pytest process (Linux 4.0+)."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def peak_since_reset_mb() -> float:
    """VmHWM from /proc/self/status (getrusage's maxrss keeps the peak of threads that
    exited before the reset)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return peak_rss_mb()


def current_rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * 4096 / 2**20
