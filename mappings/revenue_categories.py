"""UB-04 revenue code categories as department names (``mappings/revenue_categories.yaml``).

The repeat-offender report names a credit's department from the ledger; a ledger that carries
no department column still carries revenue codes on a hospital's charges, and the category of
a revenue code is how hospitals name the department that charged it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mappings.loader import MAPPINGS_DIR, load_file

REVENUE_CATEGORIES_PATH = MAPPINGS_DIR / "revenue_categories.yaml"
CODE = "revenue_categories_config"


class RevenueCategories(BaseModel):
    """Category (three digits) → department name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    categories: dict[str, str] = Field(min_length=1)

    @field_validator("categories")
    @classmethod
    def _three_digits(cls, v: dict[str, str]) -> dict[str, str]:
        bad = sorted(k for k in v if not (len(k) == 3 and k.isdigit()))
        if bad:
            raise ValueError(f"categories must be three digits: {', '.join(bad)}")
        return v

    def name(self, category: str) -> str:
        """``045`` → ``rev 045x Emergency room``; '' for text that is not a category."""
        if len(category) != 3 or not category.isdigit():
            return ""
        name = self.categories.get(category)
        return f"rev {category}x {name}" if name else f"rev {category}x"


def load_revenue_categories(path: Path = REVENUE_CATEGORIES_PATH) -> RevenueCategories:
    return load_file(RevenueCategories, path, code=CODE)


@lru_cache(maxsize=1)
def default_revenue_categories() -> RevenueCategories:
    return load_revenue_categories()


__all__ = [
    "REVENUE_CATEGORIES_PATH",
    "RevenueCategories",
    "default_revenue_categories",
    "load_revenue_categories",
]
