package dev.posta.bench;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import picocli.CommandLine;

/** One posta-bench command run in the test's JVM: its exit code and what it printed. */
record BenchRun(int exit, String out) {
  static BenchRun of(String... args) {
    PrintStream old = System.out;
    var out = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    try {
      int exit = new CommandLine(new Bench()).execute(args);
      return new BenchRun(exit, out.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(old);
    }
  }
}
