"""One script per paper figure, reading cached results and writing to figures/out/."""
