// Runs EPUBCheck's command line on several EPUBs in one JVM (each run pays seconds of JVM
// start-up and schema loading otherwise). Arguments: the options for every file, "--", then
// the files; each file's JSON report goes to <file>.epubcheck5.json. Exit status: how many
// files had a fatal error or error.
import com.adobe.epubcheck.tool.EpubChecker;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

public class EpubcheckBatch {
  public static void main(String[] args) {
    int sep = Arrays.asList(args).indexOf("--");
    List<String> options = Arrays.asList(args).subList(0, sep);
    int failed = 0;
    for (String file : Arrays.asList(args).subList(sep + 1, args.length)) {
      List<String> argv = new ArrayList<>();
      argv.add(file);
      argv.addAll(options);
      argv.add("--json");
      argv.add(file + ".epubcheck5.json");
      if (new EpubChecker().run(argv.toArray(new String[0])) != 0) failed++;
    }
    System.exit(failed);
  }
}
