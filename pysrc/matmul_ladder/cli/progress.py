"""A harness run behind a progress bar, which Ctrl-C or SIGTERM stops with the rows kept."""
import signal
import sys
import threading


class Terminated(KeyboardInterrupt):
    """SIGTERM (`timeout`, a batch system's time limit), handled as Ctrl-C is."""


def _terminate(signum, frame):
    raise Terminated()


def run_with_progress(harness, log, progress):
    """harness.run() behind a progress bar (one tick a row); Ctrl-C or SIGTERM stops it and
    keeps the rows logged so far. Closes the log. Returns '' if the run finished, else what
    stopped it ("Ctrl-C" or "SIGTERM")."""
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=harness.total_rows(), unit="row", file=sys.stderr, dynamic_ncols=True)
        harness.progress = lambda text: (bar.set_description_str(text[:60]), bar.update(1))
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        harness.run()
        return ""
    except Terminated:
        return "SIGTERM"
    except KeyboardInterrupt:
        return "Ctrl-C"
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if bar:
            bar.close()
        log.close()
