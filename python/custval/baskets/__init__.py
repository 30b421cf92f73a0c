"""Cross-sell and upsell on the parallel Rust core (DESIGN.md §4, *Baskets*): basket KPIs,
product affinity, next purchases and item-to-item recommendations."""

from custval.baskets.kpis import BasketKpis, basket_kpis
from custval.baskets.pairs import affinity, next_purchase
from custval.baskets.recommendations import evaluate_recommendations, recommend

__all__ = [
    "BasketKpis",
    "affinity",
    "basket_kpis",
    "evaluate_recommendations",
    "next_purchase",
    "recommend",
]
