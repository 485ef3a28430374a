"""Stage 2: names, domains, graphs, groups, actions and law types of a spec."""

from .domains import BoolDomain, ClassOf, Cyclic, Labels, Nodes, Range, RealDomain, Tensor
from .laws import LawInfo, Variable
from .records import LayerDef, ModelSig, PriorDef, Spec
from .structures import ActionDef, GraphDef, GroupDef, TransformDef

__all__ = [
    "Spec",
    "ModelSig",
    "LayerDef",
    "PriorDef",
    "LawInfo",
    "Variable",
    "ActionDef",
    "GraphDef",
    "GroupDef",
    "TransformDef",
    "Cyclic",
    "Range",
    "Labels",
    "Nodes",
    "Tensor",
    "RealDomain",
    "BoolDomain",
    "ClassOf",
]
