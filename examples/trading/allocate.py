"""A strategy-allocation agent on simulated market data, dreaming on vs off.

A seeded price path (no network, no data files) moves through four market regimes: a calm uptrend,
a choppy mean-reverting range, a volatile sell-off and a recovery. Each step the agent allocates
to one of six strategies (momentum, mean reversion, breakout, short volatility, buy-and-hold,
cash), whose returns are computed from past prices only, and observes only the return of the
strategy it chose. It is oneiro's ab agent (:class:`oneiro.ab.agent.MemoryAgent`) with a
discounted estimator: it records every allocation as a decision episode through the effectful
``ab.pull`` pipeline. The dream twin also dreams every simulated day: NREM summarises and checks
its predictions, REM imagines counterfactual returns of the strategies it did not choose, and
EVOLUTION moves the strategy concentration vector by a replicator step; the twin explores by that
vector. (Threat rehearsal is not an operation yet, so this example does not show it.)

It prints both twins' P&L, worst drawdown and Sharpe-like ratio on the same path, the concentration
vector after each dream, and the playbook's items. Run::

    python examples/trading/allocate.py [--steps 480] [--seed 7]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

import oneiro
from oneiro.ab.agent import MemoryAgent, SimClock
from oneiro.ab.harness import sharpe, worst_drawdown
from oneiro.store.query import EntryQuery

STRATEGIES = ("momentum", "mean_reversion", "breakout", "short_vol", "buy_hold", "cash")
#: Per-regime (drift, volatility) of the log return per step; each regime lasts a quarter.
REGIMES = ((0.0015, 0.006), (0.0, 0.012), (-0.003, 0.025), (0.002, 0.010))
#: Lookbacks of the momentum and breakout signals, in steps.
MOMENTUM_LOOKBACK = 12
BREAKOUT_LOOKBACK = 24
#: Short volatility earns this premium per step and loses the squared move, scaled.
SHORT_VOL_PREMIUM = 0.0012
SHORT_VOL_GAMMA = 8.0
#: Returns are reported in percent, the scale the agent's payoffs live on.
PERCENT = 100.0
#: The allocation agent forgets with this discount per step (an awake choice, tuned on other seeds
#: by ``oneiro ab`` for its regime task; here simply fixed).
DISCOUNT = 0.95
DREAM_EVERY = 24


@dataclass(frozen=True)
class Market:
    """Log returns of a simulated price path and each strategy's return per step."""

    returns: np.ndarray
    strategy_returns: np.ndarray  # (steps, strategies), percent

    @staticmethod
    def simulate(steps: int, seed: int) -> Market:
        rng = np.random.default_rng(seed)
        length = max(steps // len(REGIMES), 1)
        drift = np.array([REGIMES[min(t // length, len(REGIMES) - 1)][0] for t in range(steps)])
        vol = np.array([REGIMES[min(t // length, len(REGIMES) - 1)][1] for t in range(steps)])
        r = drift + vol * rng.standard_normal(steps)
        # A choppy range: returns partly revert (negative autocorrelation) in the second regime.
        for t in range(1, steps):
            if length <= t < 2 * length:
                r[t] -= 0.6 * r[t - 1]
        out = np.zeros((steps, len(STRATEGIES)))
        price = np.cumsum(r)
        for t in range(steps):
            past = r[max(0, t - MOMENTUM_LOOKBACK) : t]
            window = price[max(0, t - BREAKOUT_LOOKBACK) : t]
            momentum = float(np.sign(past.sum())) if past.size else 0.0
            reversion = -float(np.sign(r[t - 1])) if t else 0.0
            breakout = 0.0
            if window.size:
                breakout = (
                    1.0 if price[t - 1] >= window.max() else -1.0 if price[t - 1] <= window.min() else 0.0
                )
            short_vol = SHORT_VOL_PREMIUM - SHORT_VOL_GAMMA * r[t] ** 2
            out[t] = [momentum * r[t], reversion * r[t], breakout * r[t], short_vol, r[t], 0.0]
        return Market(r, out * PERCENT)


def run(market: Market, dreaming: bool, seed: int) -> tuple[np.ndarray, list[dict[str, float]], list[str]]:
    """Play one twin on the market; its payoffs, the concentration vectors, the playbook items."""
    clock = SimClock()
    rng = np.random.default_rng([seed, 2])
    steps = len(market.returns)
    payoffs = np.zeros(steps)
    with oneiro.open(":memory:", embedder="hashing", clock=clock) as memory:
        agent = MemoryAgent(
            memory, STRATEGIES, clock, dreaming=dreaming, dream_every=DREAM_EVERY, discount=DISCOUNT
        )
        for t in range(steps):
            action = agent.choose(t, rng)
            payoffs[t] = market.strategy_returns[t, action]
            agent.update(t, action, float(payoffs[t]))
        mixes = memory.store.entries_matching(EntryQuery(kinds=("strategy_mix",)))
        newest = max(mixes, key=lambda e: (e.created_at, e.id)) if mixes else None
        history = [h["concentrations"] for h in newest.data.get("history", [])] if newest else []
        items = [item.text for item in memory.playbook.items()]
    return payoffs, history, items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=480)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    market = Market.simulate(args.steps, args.seed)
    print(
        f"simulated market: {args.steps} steps, seed {args.seed}, "
        f"buy-and-hold {market.returns.sum() * PERCENT:+.1f}%"
    )
    results = {}
    for dreaming in (False, True):
        payoffs, history, items = run(market, dreaming, args.seed)
        name = "dream twin" if dreaming else "awake twin"
        results[name] = payoffs
        print(
            f"{name}: P&L {payoffs.sum():+.1f}%, worst drawdown {worst_drawdown(payoffs):.1f}%, "
            f"Sharpe-like {sharpe(payoffs):.3f}"
        )
        if dreaming:
            print(f"concentration vector after each of {len(history)} strategy steps (every 4th shown):")
            for i, mix in enumerate(history):
                if i % 4 == 0 or i == len(history) - 1:
                    print(f"  step {i:3d}: " + " ".join(f"{k} {v:.3f}" for k, v in sorted(mix.items())))
            print(f"playbook items: {len(items)}" + "".join(f"\n  - {text}" for text in items[:10]))
    diff = results["dream twin"].sum() - results["awake twin"].sum()
    print(
        f"dream - awake P&L on this path: {diff:+.1f}% (one path: an illustration, not a measurement; "
        "see `oneiro ab` for the seeded comparison with CIs)"
    )


if __name__ == "__main__":
    main()
