"""DeepRacer's model files, both ways (DESIGN.md section 14): read a DeepRacer model into a racekit
policy (importer.py), write a racekit policy as a DeepRacer car tarball (exporter.py). The GraphDef is read
and written with the protocol buffers tensorboard ships (graph.py): no TensorFlow at run time."""
