"""B2/B3 for Metaflow: ten steps in a line (start, s02 ... s09, end); each takes the
previous step's dict of 100 ints (``self.d``) and stores a new one. Metaflow has no step
cache: B3 is ``resume`` of the first run (which clones finished tasks), and the plain
``run`` again is reported as an alternative."""

import json

from metaflow import FlowSpec, Parameter, step

N_KEYS = 100


class LinearFlow(FlowSpec):
    n = Parameter("n", default=N_KEYS, type=int)

    @step
    def start(self):
        self.d = {f"k{i:03d}": i for i in range(self.n)}
        self.next(self.s02)

    @step
    def s02(self):
        self.d = {k: v + 1 for k, v in self.d.items()}
        self.next(self.s03)

    @step
    def s03(self):
        self.d = {k: v + 1 for k, v in self.d.items()}
        self.next(self.s04)

    @step
    def s04(self):
        self.d = {k: v + 1 for k, v in self.d.items()}
        self.next(self.s05)

    @step
    def s05(self):
        self.d = {k: v + 1 for k, v in self.d.items()}
        self.next(self.s06)

    @step
    def s06(self):
        self.d = {k: v + 1 for k, v in self.d.items()}
        self.next(self.s07)

    @step
    def s07(self):
        self.d = {k: v + 1 for k, v in self.d.items()}
        self.next(self.s08)

    @step
    def s08(self):
        self.d = {k: v + 1 for k, v in self.d.items()}
        self.next(self.s09)

    @step
    def s09(self):
        self.d = {k: v + 1 for k, v in self.d.items()}
        self.next(self.end)

    @step
    def end(self):
        self.d = {k: v + 1 for k, v in self.d.items()}
        print("BENCH_RESULT " + json.dumps({"steps": 10, "check": sum(self.d.values())}))


if __name__ == "__main__":
    LinearFlow()
