"""The program's tests, run in the sandbox with the same parameters as the program."""

from __future__ import annotations

from program import params, squares_total


def closed_form(n: int) -> int:
    return (n - 1) * n * (2 * n - 1) // 6 if n > 0 else 0


def main() -> None:
    p = params()
    strategy, chunk = str(p.get("strategy", "materialise")), int(p.get("chunk", 4096))
    for n in (0, 1, 2, 3, 10, 4095, 4096, 4097, 100_003):
        got = squares_total(n, strategy, chunk)
        assert got == closed_form(n), f"{strategy}: squares_total({n}) = {got}, want {closed_form(n)}"
    print("ok")


if __name__ == "__main__":
    main()
