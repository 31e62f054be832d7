using System.Diagnostics;
using System.Text;

namespace ZmqAspire.Docs.Tests;

/// <summary>
/// Runs a Python sample with <c>/usr/bin/python3</c> (Debian's pyzmq) or a shell sample with
/// <c>/bin/bash -euo pipefail</c>, from the repository root, as the fixture's client user (a real
/// local account with no terminal and stdin closed); or only checks its syntax (<c>ast.parse</c>,
/// <c>bash -n</c>).
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
    /// <param name="account">The local user it runs as.</param>
    /// <param name="timeout">How long it may take; it is killed with its children after that.</param>
    /// <exception cref="InvalidOperationException">The script exited non-zero or did not finish in time.</exception>
    public static void Run(string language, string code, bool checkOnly, string workingDirectory, LocalAccount account, TimeSpan timeout)
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
            var asAccount = account.CommandLine(command[0], command[1..], environment: null, workingDirectory);
            var info = new ProcessStartInfo(asAccount[0]);
            foreach (var argument in asAccount.Skip(1))
            {
                info.ArgumentList.Add(argument);
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
