"""The base of every spec section: strict (unknown keys are errors) and safe names."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

from pathdep.paths import check_name

# A name that becomes a file name (suite, intervention, branch): pathdep.paths says the rule.
SafeName = Annotated[str, AfterValidator(lambda v: check_name("the", v))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

