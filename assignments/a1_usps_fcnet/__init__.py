"""Assignment 1: USPS handwritten digits with a compact fully-connected network.

Tune a two-hidden-layer fully-connected network on a validation split carved from USPS's training set,
evaluate the chosen network once on the test set, and compare it with a small CNN trained by the same
code: accuracy, parameter count, FLOPs, training time and inference latency.

Run:  python -m assignments.a1_usps_fcnet            (real USPS, downloaded on first use)
      python -m assignments.a1_usps_fcnet --smoke    (a one-minute run on stand-in sample digits)
      python -m assignments.a1_usps_fcnet --help     (every option)
"""
