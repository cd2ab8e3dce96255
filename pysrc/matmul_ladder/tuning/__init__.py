"""The on-machine tuner: a bounded search around the cache model's block sizes (search), and
the cache that keeps what it found per CPU (cache)."""
from matmul_ladder.tuning.cache import (ENV_DIR, ENV_IGNORE, TunerCacheWarning, apply,  # noqa: F401
                                        cache_dir, cache_path, cpu_key, forget, load, problems,
                                        status)
from matmul_ladder.tuning.search import (MARGIN, STRASSEN_SIZES, candidates,  # noqa: F401
                                         tile_candidates, tune)
