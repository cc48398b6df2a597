"""The fake Keepa for tests, demos and benchmarks: an HTTP simulator, its book catalogue and
Keepa's token rules, plus the pipeline harness. Production code never imports it; ``runstack``
does only in demo mode (no ``KEEPA_API_KEY``)."""
