"""Running many simulations (schedulers x seeds x loads), summarising and plotting them."""
