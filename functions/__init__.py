"""The sample application: the IoT brewery's actions, simulator and manifest."""
