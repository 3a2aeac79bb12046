"""What the fake API server's own test suites share: a fake started once per test class (by PID,
in a temporary directory, stopped at the end), polling with a deadline, and a runner that exits
77 (ctest's SKIP_RETURN_CODE) when every test was skipped for a missing dependency."""

import os
import shutil
import sys
import tempfile
import time
import unittest

try:
    import aiohttp  # noqa: F401  (the fake needs it)
    HAVE_AIOHTTP = True
except ImportError:
    HAVE_AIOHTTP = False

from fakeclient import Fake

NEED_AIOHTTP = "the fake needs the Python module aiohttp: apt-get install python3-aiohttp"


def wait_until(cond, timeout=10, what="condition"):
    """Polls cond() until it returns something true; fails the test at the deadline."""
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


@unittest.skipUnless(HAVE_AIOHTTP, NEED_AIOHTTP)
class FakeCase(unittest.TestCase):
    """One fake per test class; faults are cleared after each test."""
    extra_args = ()
    tmp_prefix = "kubefake-test-"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix=cls.tmp_prefix)
        os.chmod(cls.tmp, 0o755)
        cls.fake = Fake(*cls.extra_args, data_dir=os.path.join(cls.tmp, "data"))

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def tearDown(self):
        self.fake.control("DELETE", "faults")


def run(module_name):
    """Runs the suites named on the command line (all of the module's without any)."""
    module = sys.modules[module_name]
    names = sys.argv[1:] or None
    loader = unittest.TestLoader()
    suite = loader.loadTestsFromNames(names, module) if names else loader.loadTestsFromModule(module)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    if not result.wasSuccessful():
        sys.exit(1)
    if result.testsRun and len(result.skipped) == result.testsRun:
        for _, why in result.skipped[:1]:
            print(f"SKIPPED: {why}")
        sys.exit(77)
