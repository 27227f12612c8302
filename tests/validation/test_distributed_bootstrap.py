"""A bootstrap on a 2-worker LocalCluster gives the serial table, bit for bit (small n)."""

import pandas as pd
import pytest

import nlme_lab as nl

pytest.importorskip("distributed", reason="dask.distributed is not installed")


def test_two_workers_give_the_serial_table(theo_fit):
    from nlme_lab.distributed import embedded_client, shutdown

    serial = nl.bootstrap(theo_fit, n=4, seed=21, scheduler="serial")
    client = embedded_client(2)
    try:
        spread = nl.bootstrap(theo_fit, n=4, seed=21, scheduler=client)
    finally:
        shutdown()
    pd.testing.assert_frame_equal(spread.replicates, serial.replicates, check_exact=True)
    assert (serial.replicates["status"] != "failed").all(), serial.failed
