"""Every size limit of the app, declared once: what a run, a corpus, a file or a page's work may be at most.

The bottom of core's hierarchy: it imports nothing, so every module can read the same numbers.
"""

# ---------------------------------------------------------------- a run's settings (TrainConfig refuses more)
MAX_VOCAB = 200_000
MAX_DIM = 16_384
MAX_BATCH = 65_536
MAX_WINDOW = 20
MAX_NEGATIVES = 64  # SGNS's k: word2vec suggests 5-20 for small data, 2-5 for large (Mikolov et al. 2013)
MAX_CONTEXT = 256  # a GPT's window T (GPT-2 small: 1,024; here attention's T x T stays small)
MAX_LAYERS = 12  # GPT-2 small has 12 blocks (Radford et al. 2019, table 2)
MAX_HEADS = 64
MAX_LR = 100.0  # beyond this a step overflows float32 before the loss can warn (see TrainingDiverged)
MAX_CORPUS_CHARS = 5_000_000
MEMORY_BUDGET_BYTES = 3 * 1024**3  # everything one run holds and allocates (core.budget.run_bytes)

# ---------------------------------------------------------------- what a run keeps (core.records)
HISTORY_MAX_BYTES = 16 * 1024**2  # the kept StepRecords of one run, at most
HISTORY_MAX_RECORDS = 1_000  # a small table keeps this many steps (60 x 16: about 8 MB)
SNAPSHOT_MAX_BYTES = 24 * 1024**2  # weight frames of one run, unless two frames need more
MAX_FRAMES = 64
MIN_FRAMES = 2  # step 0 and one more
SPLIT_CHUNK = 2**18  # values per float64 chunk of the exact split of a row's move (core.move_split)

# ---------------------------------------------------------------- the corpus (core.corpus)
MAX_PAIRS = 4_000_000  # bounds the (centre, context) pair arrays (2 x int64) at 64 MB
TOY_TOKENS_PER_ROW = 40  # the toy corpus has clip(40 V, 20,000, MAX_PAIRS / (2 window)) tokens
TOY_MIN_TOKENS = 20_000

# ---------------------------------------------------------------- layouts (core.layouts)
UMAP_MAX_ROWS = 10_000  # above this, UMAP lays out a seeded sample (a 50,257-row fit is too slow here)
LAYOUT_CACHE_BYTES = 64 * 2**20  # LayoutCache's default bound on its kept layouts

# ---------------------------------------------------------------- files (core.export)
MAX_IMPORT_BYTES = 50 * 1024**2  # an uploaded file, and the float32 matrix it becomes (text parses cost more)
TEXT_EXPORT_MAX_VALUES = 5_000_000  # a table's values in a text format (~60 MB of text); beyond it, use .npy

# ---------------------------------------------------------------- work a link or a page may ask for
REPLAY_BUDGET = 600_000_000  # cells: about a minute of one core (measured: 60 x 16 Adam 4.6 ms a step)
TIMING_MAX_TOKENS = 64  # the lookup's product is timed on at most this many tokens of the batch ...
TIMING_MAX_MACS = 2**28  # ... and at most this many multiply-adds per product (50,257 x 768: 6 tokens)
SWEEP_BUDGET_BYTES = 256 * 1024**2  # what one model of a dimension sweep may allocate (one model at a time)
SWEEP_MAX_LOGITS = 2**20  # batch x vocabulary scores per step: keeps the sweep's 1,800 steps to seconds, not minutes


def toy_corpus_tokens(vocab_size: int, window: int) -> int:
    """How many tokens the toy corpus of V rows has: 40 per row, at least 20,000, its pairs at most MAX_PAIRS."""
    return min(max(TOY_TOKENS_PER_ROW * vocab_size, TOY_MIN_TOKENS), MAX_PAIRS // (2 * window))
