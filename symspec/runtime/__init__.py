"""symspec.runtime: small torch kernels the generated modules import.

Device- and dtype-agnostic (everything follows its inputs), no Python loop
over examples, randomness from a ``torch.Generator``.
"""

from .actions import (
    act_on_positions,
    act_on_values,
    compose,
    concat_actions,
    element_table,
    gather_positions,
    invert,
    joint_elements,
    matrix_event_dim,
    permute_event_dim,
    random_words,
)
from .calls import CallBatch
from .distributions import pushforward, scale_table, shift_table, sum_distribution
from .divergences import (
    bernoulli_cross_entropy,
    bernoulli_sym_kl,
    cross_entropy_to,
    expectation,
    squared_error,
    squared_hinge,
    sym_kl_logits,
    sym_kl_logprobs,
    truth_penalty,
)
from .logic import implication_penalty, logit, sigmoid, soft_and, soft_not, soft_or
from .priors import bound_tensor, lipschitz_penalty, nuclear_prior, spectral_entropy
from .sampling import between_nodes, haar_orthogonal, interval_int, random_permutations, rejection, sample_table_rows, uniform_int
from .tables import (
    action_table,
    as_logit,
    cached_to,
    expectation_logprobs,
    field,
    graph_distances,
    masked_mean,
    on_shortest_path,
    pad_support,
    repeat_examples,
    where_examples,
)

__all__ = [
    "concat_actions",
    "gather_positions",
    "nuclear_prior",
    "spectral_entropy",
    "lipschitz_penalty",
    "bound_tensor",
    "repeat_examples",
    "cached_to",
    "where_examples",
    "truth_penalty",
    "bernoulli_cross_entropy",
    "on_shortest_path",
    "joint_elements",
    "permute_event_dim",
    "matrix_event_dim",
    "CallBatch",
    "action_table",
    "graph_distances",
    "field",
    "masked_mean",
    "pad_support",
    "expectation_logprobs",
    "as_logit",
    "element_table",
    "random_words",
    "act_on_values",
    "act_on_positions",
    "compose",
    "invert",
    "sym_kl_logprobs",
    "sym_kl_logits",
    "bernoulli_sym_kl",
    "cross_entropy_to",
    "squared_error",
    "squared_hinge",
    "expectation",
    "pushforward",
    "shift_table",
    "scale_table",
    "sum_distribution",
    "soft_not",
    "soft_and",
    "soft_or",
    "implication_penalty",
    "logit",
    "sigmoid",
    "uniform_int",
    "interval_int",
    "random_permutations",
    "haar_orthogonal",
    "sample_table_rows",
    "between_nodes",
    "rejection",
]
