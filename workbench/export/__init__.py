"""Writers and readers of DL4J files: Nd4j binary arrays and ModelSerializer zips."""
