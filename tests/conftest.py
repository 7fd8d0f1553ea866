pytest_plugins = ["sftjob_devcluster.pytest_plugin", "tests.operator_fixtures"]
