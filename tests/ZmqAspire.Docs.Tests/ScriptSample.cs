using System.Diagnostics;
using System.Text;

namespace ZmqAspire.Docs.Tests;

/// <summary>
/// Runs a Python sample with <c>/usr/bin/python3</c> (Debian's pyzmq) or a shell sample with
/// <c>/bin/bash -euo pipefail</c>, from the repository root, with stdin closed and the fixture's
/// client environment; or only checks its syntax (<c>py_compile</c>, <c>bash -n</c>).
/// </summary>
public static class ScriptSample
{
    /// <summary>The languages this runner takes, as written after the opening fence.</summary>
    public static readonly string[] Languages = ["python", "bash", "sh", "shell"];

    /// <summary>Runs (or checks) the script; throws with its output when it fails.</summary>
    /// <param name="language">One of <see cref="Languages"/>.</param>
    /// <param name="code">The script.</param>
    /// <param name="checkOnly">Only check the syntax.</param>
    /// <param name="workingDirectory">Where it runs (the repository root).</param>
    /// <param name="environment">Variables to set (null value: remove).</param>
    /// <param name="timeout">How long it may take; it is killed with its children after that.</param>
    /// <exception cref="InvalidOperationException">The script exited non-zero or did not finish in time.</exception>
    public static void Run(string language, string code, bool checkOnly, string workingDirectory, IReadOnlyDictionary<string, string?> environment, TimeSpan timeout)
    {
        var file = Path.Combine(Path.GetTempPath(), $"zmqaspire-docs-{Guid.NewGuid():N}" + (language == "python" ? ".py" : ".sh"));
        File.WriteAllText(file, code);
        try
        {
            string[] command = (language, checkOnly) switch
            {
                ("python", false) => ["/usr/bin/python3", file],
                ("python", true) => ["/usr/bin/python3", "-c", "import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])", file],
                (_, false) => ["/bin/bash", "-euo", "pipefail", file],
                (_, true) => ["/bin/bash", "-n", file],
            };
            var info = new ProcessStartInfo(command[0]) { WorkingDirectory = workingDirectory };
            foreach (var argument in command.Skip(1))
            {
                info.ArgumentList.Add(argument);
            }

            foreach (var (key, value) in environment)
            {
                if (value is null)
                {
                    info.Environment.Remove(key);
                }
                else
                {
                    info.Environment[key] = value;
                }
            }

            var output = new StringBuilder();
            using var process = ProcessRunner.StartCapturing(info, output);
            var finished = process.WaitForExit(timeout);
            if (!finished)
            {
                process.Kill(entireProcessTree: true);
            }

            process.WaitForExit(5_000);
            string text;
            lock (output)
            {
                text = output.ToString();
            }

            if (!finished)
            {
                throw new InvalidOperationException($"The {language} sample did not finish within {timeout.TotalSeconds} s; its output:\n{text}");
            }

            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"The {language} sample exited with {process.ExitCode}; its output:\n{text}");
            }
        }
        finally
        {
            File.Delete(file);
        }
    }
}
