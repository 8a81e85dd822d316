"""Training curves and params in dvclive (rank 0 only)."""
from __future__ import annotations


def start_live(live_dir: str, params: dict, monitor_system: bool, on_started=None):
    """dvclive run that never rewrites dvc.yaml (metrics/plots are declared there by hand).

    Its system monitor is a non-daemon thread: if anything (Ctrl-C included) interrupts this
    function after the thread started, the run is ended here, or the process could never exit."""
    from dvclive import Live
    import dvclive.monitor_system as monitor

    if monitor.GPU_AVAILABLE:
        # nvidia-ml-py installed but no driver makes dvclive's monitor log nothing at all;
        # probe NVML and keep CPU/RAM/disk monitoring when no GPU answers.
        try:
            monitor.nvmlInit()
            monitor.nvmlShutdown()
        except Exception:
            monitor.GPU_AVAILABLE = False
    live = Live(dir=live_dir, dvcyaml=False, save_dvc_exp=False, report=None,
                monitor_system=False)
    try:
        if monitor_system:
            live.monitor_system(interval=0.1, num_samples=10)  # one aggregated point per second
        if on_started is not None:
            on_started()
        live.log_params(params)
    except BaseException:
        live.end()
        raise
    return live


def log_epoch(live, record: dict) -> None:
    for key, value in record.items():
        if key != "epoch":
            live.log_metric(key, float(value))
    live.next_step()


def loggable(flat: dict) -> dict:
    """dvclive params take scalars; lists (crop ranges) are logged as their text."""
    return {k: v if isinstance(v, (int, float, str, bool)) or v is None else str(v) for k, v in flat.items()}
