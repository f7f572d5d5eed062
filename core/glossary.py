"""Words for the terms: short plain-language definitions, and one line per page of what to look for there."""

from __future__ import annotations

TERMS: dict[str, str] = {
    "gradient": "How the loss would change if a number in the table changed. Training moves each number a little "
    "against its gradient, so the loss goes down.",
    "gradient mask": "Which rows of the table got a non-zero gradient in a step. For a lookup, only the rows of the "
    "tokens in the batch do.",
    "optimizer state": "What an optimizer remembers from earlier steps (a velocity, running averages). It can move "
    "a row in a step where that row got no gradient.",
    "momentum": "A running sum of past gradients (a velocity): SGD with momentum keeps moving a row for a while "
    "after its last gradient.",
    "moment estimates": "Adam's running averages of each number's gradient (first moment) and squared gradient "
    "(second moment). Adam steps along their ratio, so a row keeps moving after its gradient stops.",
    "weight decay": "A pull of every number towards zero, a small share each step. It is not optimizer state: it "
    "acts on every row, every step, with or without a gradient.",
    "tied head": "The output layer reuses the embedding table (as GPT-2 does). Scoring every token for the next "
    "word (a full softmax) then gives every row a gradient, every step; negative sampling scores only the true "
    "context and the k sampled rows, so only those get the head's gradient.",
    "negative sampling": "word2vec's cheaper objective: for each (centre, context) pair, score the true context and "
    "k rows drawn at random (unigram counts to the 3/4 power) with a sigmoid, instead of a softmax over all V rows. "
    "Only those k+1 head rows get a gradient.",
    "padding_idx": "A row reserved for padding. nn.Embedding never passes the lookup's gradient to it, so (with "
    "plain SGD and an untied head) it never moves, however often it is looked up. A tied head still reaches it "
    "(negative sampling's: when it draws the row).",
    "max_norm": "A cap on a row's length. In the forward pass, a looked-up row longer than max_norm is rescaled to "
    "that length: a change to the table that no gradient made.",
    "sparse gradient": "A gradient stored as just the rows that got one (nn.Embedding(sparse=True)). SGD, Adagrad "
    "and SparseAdam then touch only those rows.",
    "UMAP": "A map of the rows in 2-D or 3-D that tries to keep each row's nearest neighbours near. Distances "
    "between far-apart groups mean little.",
    "PCA": "The 2 or 3 directions in which the rows spread out most; the map is the rows' shadow on them. Distances "
    "are faithful within those directions, and it is fast.",
    "softmax": "The head's scores turned into probabilities: exp(score) / Σ exp(scores). The loss of a position is "
    "−ln of its target's probability; the batch's loss is their mean.",
    "dL/dlogits": "The loss's gradient with respect to the scores: (softmax − one_hot(target)) / B. Every token's "
    "score is pushed down by its probability, the target's pulled up by 1 − p.",
    "scatter-add": "How the lookup's backward reaches the table: each batch position's dL/dh is added into the row "
    "it looked up, so a row used k times gets the sum of k parts (padding_idx's parts are dropped).",
    "bias correction": "Adam divides its moments by 1 − β^t at step t: early on, the running averages start at zero "
    "and would be too small otherwise.",
    "bitwise": "Equal to the bit: the same float32 operations in the same order give exactly the same number. "
    "Another order (a fused or batched kernel) may differ in the last bit: float32 rounding.",
    "k-NN overlap": "For one word, the share of its k nearest neighbours (by cosine) that two tables have in common: "
    "the Jaccard index |A ∩ B| / |A ∪ B|, 1 = the same neighbours, 0 = none in common.",
}

LOOK_FOR: dict[str, str] = {
    "home": "Each page answers one question, with your own run: start with Train.",
    "train": "The loss falls below the dashed line, a blind guess (every score 0); the blue strip marks the few rows "
    "this step looked up.",
    "gradient_masks": "The looked-up rows get a gradient (a tied full-softmax head reaches every row, negative "
    "sampling's only the sampled ones; padding_idx blocks its own); a token used k times gets the sum of k parts.",
    "row_updates": "Rows that moved without a gradient: their bars are optimizer state, weight decay or max_norm.",
    "embedding_space": "Press Play: words used in the same contexts drift together as training goes on; the k-NN "
    "overlap between kept steps rises as the space settles.",
    "lookup": "emb(x) equals one_hot(x) @ W (max_norm's rescale aside): a lookup, not a layer with a bias or an "
    "activation.",
    "scale": "How many parameters each model spends on its table, and what a bigger dimension buys on your data.",
    "lessons": "Start a lesson, take its steps: the app then checks the lesson's point on your own run's records.",
    "compare": "The rows with a gradient are the same for every optimizer; the rows that move are not, and nor do "
    "their words' neighbours (k-NN overlap).",
    "predict": "Guess first, then step: which rows get a gradient, and which move? The two can differ.",
    "slow_motion": "Each stage's number equals the run's record: the batch mean is the recorded loss, the row's |g| "
    "its grad_norm, and the replayed rule gives the recorded move to the bit.",
    "export": "Download the table or the history; upload a matrix to see its neighbours and its PCA.",
}
