"""The eu-central-1 price table (``prices.json``): loaded, validated and checked for staleness."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

PRICES_FILE = Path(__file__).with_name("prices.json")
ENTRY_FIELDS = ("price", "unit", "source", "read_on")


class PriceTableError(ValueError):
    """The price table is malformed (every problem is named), or a price it lacks was asked for."""


@dataclass(frozen=True)
class Price:
    key: str
    price: float
    unit: str
    source: str
    read_on: dt.date
    note: str = ""


@dataclass(frozen=True)
class PriceTable:
    region: str
    currency: str
    max_age_days: int
    prices: dict[str, Price]

    def __getitem__(self, key: str) -> float:
        return self.entry(key).price

    def entry(self, key: str) -> Price:
        if key not in self.prices:
            raise PriceTableError(f"no price {key!r} in the price table")
        return self.prices[key]

    @property
    def read_on(self) -> dt.date:
        """The oldest entry's read date: the table is as old as that."""
        return min(p.read_on for p in self.prices.values())

    def staleness(self, today: dt.date) -> str | None:
        """A warning when the oldest price is older than ``max_age_days``, else None."""
        age = (today - self.read_on).days
        if age <= self.max_age_days:
            return None
        return (
            f"STALE PRICE TABLE: prices read on {self.read_on.isoformat()}, {age} days ago (allowed: "
            f"{self.max_age_days}); refresh tradai_cdk/cost/prices.json from the AWS pricing pages"
        )


def schema_errors(doc: object) -> list[str]:
    """Every way ``doc`` departs from the price table's schema (an empty list when it is valid)."""
    if not isinstance(doc, dict):
        return ["the table is not a JSON object"]
    errors = [f"missing {field!r}" for field in ("region", "currency", "max_age_days", "prices") if field not in doc]
    if not isinstance(doc.get("max_age_days", 1), int) or doc.get("max_age_days", 1) <= 0:
        errors.append("max_age_days must be a positive integer")
    prices = doc.get("prices", {})
    if not isinstance(prices, dict) or not prices:
        return [*errors, "prices must be a non-empty object"]
    for key, entry in prices.items():
        if not isinstance(entry, dict):
            errors.append(f"{key}: not an object")
            continue
        errors += [f"{key}: missing {field!r}" for field in ENTRY_FIELDS if field not in entry]
        price = entry.get("price", 0)
        if isinstance(price, bool) or not isinstance(price, (int, float)) or price < 0:
            errors.append(f"{key}: price must be a non-negative number")
        if not str(entry.get("unit", "x")).strip():
            errors.append(f"{key}: empty unit")
        if not str(entry.get("source", "https://")).startswith("https://"):
            errors.append(f"{key}: source must be an https URL")
        try:
            dt.date.fromisoformat(str(entry.get("read_on", "2000-01-01")))
        except ValueError:
            errors.append(f"{key}: read_on must be an ISO date (YYYY-MM-DD)")
    return errors


def load_prices(path: Path = PRICES_FILE) -> PriceTable:
    """The validated price table at ``path``."""
    doc = json.loads(Path(path).read_text())
    errors = schema_errors(doc)
    if errors:
        raise PriceTableError(f"{path}: " + "; ".join(errors))
    prices = {
        key: Price(
            key, float(e["price"]), e["unit"], e["source"], dt.date.fromisoformat(e["read_on"]), e.get("note", "")
        )
        for key, e in doc["prices"].items()
    }
    return PriceTable(doc["region"], doc["currency"], doc["max_age_days"], prices)
