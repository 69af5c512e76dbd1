"""Driving-scene monitoring: explanation-quality signals, events, drive logs and reports.

* :mod:`~live_explain.monitor.signals`: attention_in_box, pointing hit, peak, per detection;
  attention outside every box, per frame.
* :mod:`~live_explain.monitor.events`: events with thresholds (attention_outside_box,
  empty_explanation, class_flip, flicker, dropout, low_confidence_persistent).
* :mod:`~live_explain.monitor.frame_monitor`: ``FrameMonitor(thresholds)(frame_result)``,
  both of the above for one pipeline result (what the desktop app uses).
* :mod:`~live_explain.monitor.runlog`: the JSONL drive log, its schema, writer and reader.
* :mod:`~live_explain.monitor.report`, :mod:`~live_explain.monitor.audit`: the HTML report and
  its bias audit; :mod:`~live_explain.monitor.faithfulness`: deletion and insertion AUC.
* :mod:`~live_explain.monitor.sink`: the export's sink tying it together.

Importing this package costs nothing; import the module you need.
"""
