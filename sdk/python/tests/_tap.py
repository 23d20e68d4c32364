"""Run a unittest module and report in TAP (automake's tap-driver.sh)."""
import sys
import unittest


class _TapResult(unittest.TestResult):
    """Prints one TAP line per test."""

    def __init__(self):
        super().__init__()
        self.n = 0

    def _line(self, test, good, note=""):
        self.n += 1
        print("%s %d - %s%s" % ("ok" if good else "not ok", self.n, test.id(), note),
              flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(test, True)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line(test, False)
        sys.stderr.write(self._exc_info_to_string(err, test))

    def addError(self, test, err):
        super().addError(test, err)
        self._line(test, False)
        sys.stderr.write(self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line(test, True, " # SKIP %s" % reason)


def main(module="__main__"):
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[module])
    result = _TapResult()
    suite.run(result)
    print("1..%d" % result.n, flush=True)
    sys.exit(0 if result.wasSuccessful() else 1)
