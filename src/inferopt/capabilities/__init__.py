"""What each model accepts, and what happens to a parameter it can't take (docs/capabilities.md)."""

from inferopt.capabilities.capable import ADAPTED_OPTION, Capable
from inferopt.capabilities.policy import DEFAULT_POLICY, adapt, lacks, needs, policy_from_options
from inferopt.capabilities.table import CapabilityTable, ModelCapabilities, bundled_table, default_table

__all__ = [
    "ADAPTED_OPTION",
    "DEFAULT_POLICY",
    "CapabilityTable",
    "Capable",
    "ModelCapabilities",
    "adapt",
    "bundled_table",
    "default_table",
    "lacks",
    "needs",
    "policy_from_options",
]
