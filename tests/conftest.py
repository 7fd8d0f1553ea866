pytest_plugins = ["sftjob_devcluster.pytest_plugin"]
