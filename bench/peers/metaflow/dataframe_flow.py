"""B4 for Metaflow: three steps passing a pandas DataFrame of 1,000,000 rows x 10 float
columns: start (make) -> transform (adds a column) -> end (summarize). Each ``self``
attribute is stored in the local datastore and read back by the next step."""

import json

import numpy as np
import pandas as pd
from metaflow import FlowSpec, Parameter, step

ROWS = 1_000_000
COLS = 10


class DataFrameFlow(FlowSpec):
    rows = Parameter("rows", default=ROWS, type=int)
    cols = Parameter("cols", default=COLS, type=int)
    seed = Parameter("seed", default=0, type=int)

    @step
    def start(self):
        rng = np.random.default_rng(self.seed)
        self.frame = pd.DataFrame(
            rng.random((self.rows, self.cols)), columns=[f"c{i}" for i in range(self.cols)]
        )
        self.next(self.transform)

    @step
    def transform(self):
        self.wider = self.frame.assign(total=self.frame.sum(axis=1))
        self.next(self.end)

    @step
    def end(self):
        wider = self.wider
        self.summary = {
            "rows": len(wider),
            "cols": wider.shape[1],
            "total_mean": float(wider["total"].mean()),
        }
        print("BENCH_RESULT " + json.dumps(self.summary))


if __name__ == "__main__":
    DataFrameFlow()
