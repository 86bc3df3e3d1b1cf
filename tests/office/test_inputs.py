"""office/inputs.py: what the office takes, in the one form it keeps."""

from __future__ import annotations

import pytest

from kernel.workflow import WorkflowError
from office import inputs


def test_open_case_takes_a_case_number_spelled_as_close_case_and_x_case_id_take_it() -> None:
    """openCase refused the full-width spelling closeCase and X-Case-Id take (NFKC everywhere)."""
    canonical = "J1101052026000777"
    for spelled in (canonical, "j1101052026000777", "Ｊ１１０１０５２０２６０００７７７"):
        assert inputs.police_case(spelled) == canonical == inputs.case_id(spelled)
    for other in ("JIT-2026-001", "(2024)京01执1号", "J11010520260007", "J١١٠١٠٥٢٠٢٦٠٠٠٧٧٧"):
        with pytest.raises(WorkflowError) as refused:
            inputs.police_case(other)
        assert refused.value.code == "BAD_USER_INPUT"
