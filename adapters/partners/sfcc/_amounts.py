"""The SFCC order's money: lines, line tax, discounts and the rest, to TikTok's total.

Salesforce's social channel cartridge (int_social_checkout,
`OrderCreateHelper.addItemsToBasket`, `applyPriceAdjustments`,
`setShippingCost`) builds the basket from what the create body says and
never recalculates it: each line costs its `net_price` plus its `tax` plus
its `price_adjustments`, shipping costs `adjusted_shipping_total.net_price`
(untaxed), and the order's `totals.price_adjustments` are added on top. The
payment it records is that basket's gross total. So the body must add up to
what the buyer paid TikTok (`payment.total_amount`) by itself.

TikTok Shop Partner Center (Order API 202309) gives `sale_price` per line
after the seller's and TikTok's discounts, and the order's `sub_total`,
`shipping_fee`, `tax` and `total_amount` (`total_amount = sub_total +
shipping_fee + tax` plus any fee of TikTok's). `line_amounts` therefore keeps
each line at its sale price, shows the discounts as that line's price
adjustments (from the line's own discount where TikTok gives one, the rest of
the order's discount spread by `spread`), spreads the order's tax onto the
lines the same way, and leaves whatever the lines, tax and shipping do not
explain (a fee) as one order-level adjustment, so the SFCC total equals
`total_amount` to the cent.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from attrs import frozen

from lifecycle import LineStatus, Order, OrderLine

__all__ = ["LineAmounts", "OrderAmounts", "minor_unit", "order_amounts", "spread"]

CENT = Decimal("0.01")

#: ISO 4217 currencies without minor units (TikTok Shop sells in JPY, KRW, VND...).
_NO_MINOR_UNIT = frozenset({"BIF", "CLP", "ISK", "JPY", "KRW", "PYG", "UGX", "VND", "XAF", "XOF"})


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of `currency`: `0.01`, or `1` for the currencies without cents."""
    return Decimal(1) if currency.upper() in _NO_MINOR_UNIT else CENT


def spread(
    total: Decimal, weights: Sequence[Decimal], quantum: Decimal = CENT
) -> tuple[Decimal, ...]:
    """`total` split in proportion to `weights` by the largest-remainder method.

    The shares are multiples of `quantum` and add up to `total` (rounded to
    `quantum` half up) exactly; each is within one `quantum` of its exact
    proportional share. Every share starts at its proportional share rounded
    down; the units left over go one each to the largest remainders (the
    earlier weight first on a tie). Zero weights only: equal shares. A
    negative total is split as its size and given its sign. Pure.
    """
    if any(weight < 0 for weight in weights):
        raise ValueError(f"weights must not be negative, got {list(weights)}")
    rounded = total.quantize(quantum, rounding=ROUND_HALF_UP)
    if not weights:
        if rounded:
            raise ValueError(f"cannot spread {total} over no weights")
        return ()
    sign = -1 if rounded < 0 else 1
    units = int(abs(rounded) / quantum)
    # Exact integer arithmetic: the weights scaled to whole numbers, shares as
    # quotient and remainder of units * weight / total weight.
    exponent = min(weight.as_tuple().exponent for weight in weights)
    scale = Decimal(10) ** -min(int(exponent), 0)
    whole_weights = [int(weight * scale) for weight in weights]
    whole = sum(whole_weights)
    if whole == 0:
        whole_weights, whole = [1] * len(weights), len(weights)
    shares = [units * weight // whole for weight in whole_weights]
    remainders = [units * weight % whole for weight in whole_weights]
    left = units - sum(shares)
    by_remainder = sorted(range(len(shares)), key=lambda i: (-remainders[i], i))
    for index in by_remainder[:left]:
        shares[index] += 1
    return tuple(sign * share * quantum for share in shares)


@frozen
class LineAmounts:
    """One live line in SFCC: its price before discounts, its tax and its discounts."""

    line: OrderLine
    net_price: Decimal
    tax: Decimal
    seller_discount: Decimal
    platform_discount: Decimal


@frozen
class OrderAmounts:
    """The whole SFCC order: the lines, shipping, and what is left of TikTok's total."""

    currency: str
    lines: tuple[LineAmounts, ...]
    shipping: Decimal
    rest: Decimal

    @property
    def total(self) -> Decimal:
        """What the cartridge's basket comes to: lines net of discounts, tax, shipping, rest."""
        lines = sum(
            (a.net_price - a.seller_discount - a.platform_discount + a.tax for a in self.lines),
            Decimal(0),
        )
        return lines + self.shipping + self.rest


def _topped_up(
    own: list[Decimal], order_total: Decimal, weights: list[Decimal], quantum: Decimal
) -> list[Decimal]:
    """Each line's own amount plus its share of what the order has beyond the lines' sum."""
    extra = order_total - sum(own, Decimal(0))
    if extra <= 0:
        return own
    return [mine + share for mine, share in zip(own, spread(extra, weights, quantum), strict=True)]


def order_amounts(order: Order) -> OrderAmounts:
    """The SFCC amounts of `order`'s lines that are not cancelled. Pure.

    Each line keeps its sale price after discounts (`sale_price` times
    `quantity`); its discounts are its own (`OrderLine.seller_discount`,
    `.platform_discount`) plus its share of the order's discount beyond the
    lines' own, and its `net_price` is the sale price plus those discounts;
    its tax is its own plus its share of the order's `taxes` beyond the
    lines' own. Shares go by sale price, largest remainder first. `rest` is
    `total_amount` less the lines, tax and shipping (zero when the order has
    no `total_amount`).
    """
    quantum = minor_unit(order.currency)
    live = [line for line in order.lines if line.status is not LineStatus.CANCELLED]
    sales = [line.sale_price * line.quantity for line in live]
    taxes = _topped_up([line.tax for line in live], order.taxes, sales, quantum)
    sellers = _topped_up(
        [line.seller_discount for line in live], order.seller_discount, sales, quantum
    )
    platforms = _topped_up(
        [line.platform_discount for line in live], order.platform_discount, sales, quantum
    )
    lines = tuple(
        LineAmounts(line, sale + seller + platform, tax, seller, platform)
        for line, sale, tax, seller, platform in zip(
            live, sales, taxes, sellers, platforms, strict=True
        )
    )
    partial = OrderAmounts(order.currency, lines, order.shipping_fee, Decimal(0))
    rest = order.total_amount - partial.total if order.total_amount else Decimal(0)
    return OrderAmounts(order.currency, lines, order.shipping_fee, rest)
