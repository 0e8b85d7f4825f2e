package workbench.harness;

import java.io.File;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;

import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

/**
 * Builds a network with a generated Java class (workbench.export.java_source): calls its
 * {@code public static build(Path paramDir)}, which returns a MultiLayerNetwork or ComputationGraph.
 *
 * <p>The class comes from {@code job.classes} (a class folder or jar, loaded in its own class loader, so
 * one JVM can run several generated classes of the same name) or, without it, from the harness class path.
 */
final class SourceModel {
    private SourceModel() {
    }

    static Runner.Net build(Job job) throws HarnessException, Dl4jFailure {
        Class<?> cls = load(job);
        Method build;
        try {
            build = cls.getMethod("build", Path.class);
        } catch (NoSuchMethodException e) {
            throw new HarnessException(job.className + " has no public static build(java.nio.file.Path)", e);
        }
        if (!Modifier.isStatic(build.getModifiers())) {
            throw new HarnessException(job.className + ".build(Path) is not static");
        }
        Object net;
        try {
            net = build.invoke(null, job.model.toPath());
        } catch (InvocationTargetException e) {
            throw new Dl4jFailure("build", e.getCause() != null ? e.getCause() : e);
        } catch (IllegalAccessException e) {
            throw new HarnessException("cannot call " + job.className + ".build: " + e, e);
        }
        if (net instanceof MultiLayerNetwork) {
            return new Runner.Net((MultiLayerNetwork) net, null);
        }
        if (net instanceof ComputationGraph) {
            return new Runner.Net(null, (ComputationGraph) net);
        }
        throw new HarnessException(job.className + ".build returned "
                + (net == null ? "null" : net.getClass().getName()) + ", not a MultiLayerNetwork or ComputationGraph");
    }

    private static Class<?> load(Job job) throws HarnessException {
        ClassLoader parent = SourceModel.class.getClassLoader();
        try {
            if (job.classes == null) {
                return Class.forName(job.className, true, parent);
            }
            File f = job.classes.getAbsoluteFile();
            // A class loader per job (never closed: the network's classes may still be needed by DL4J).
            URLClassLoader loader = new URLClassLoader(new URL[] {f.toURI().toURL()}, parent);
            return Class.forName(job.className, true, loader);
        } catch (ClassNotFoundException e) {
            throw new HarnessException("class " + job.className + " not found"
                    + (job.classes == null ? " on the class path" : " in " + job.classes), e);
        } catch (java.net.MalformedURLException | LinkageError e) {
            throw new HarnessException("cannot load " + job.className + ": " + e, e);
        }
    }
}
