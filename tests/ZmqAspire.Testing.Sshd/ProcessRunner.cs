using System.Diagnostics;
using System.Text;

namespace ZmqAspire.Testing.Sshd;

/// <summary>Runs a helper tool (ssh-keygen, useradd, ss, ...) with no terminal: stdin is always closed.</summary>
public static class ProcessRunner
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Runs the tool to completion with the default 60 s timeout unless <paramref name="timeout"/> says otherwise.</summary>
    /// <param name="fileName">Absolute path of the tool.</param>
    /// <param name="arguments">Arguments, passed as a list (no shell quoting).</param>
    /// <param name="standardInput">Text written to stdin before it is closed (e.g. chpasswd's "user:password"); null writes nothing.</param>
    /// <param name="timeout">How long to wait before killing the tool.</param>
    /// <returns>The exit code and the captured stdout and stderr.</returns>
    /// <exception cref="TimeoutException">The tool did not exit within the timeout (it is killed).</exception>
    public static ProcessResult Run(string fileName, IReadOnlyList<string> arguments, string? standardInput = null, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (standardInput is not null)
        {
            process.StandardInput.Write(standardInput);
        }

        // Never leave a tool waiting for a terminal answer.
        process.StandardInput.Close();
        if (!process.WaitForExit(timeout ?? DefaultTimeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Describe(fileName, arguments)} did not finish within {(timeout ?? DefaultTimeout).TotalSeconds} s.");
        }

        process.WaitForExit();
        return new ProcessResult(process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }

    /// <summary>Runs the tool and throws with its output when it exits non-zero.</summary>
    /// <exception cref="InvalidOperationException">The tool exited non-zero.</exception>
    public static ProcessResult RunChecked(string fileName, IReadOnlyList<string> arguments, string? standardInput = null)
    {
        var result = Run(fileName, arguments, standardInput);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{Describe(fileName, arguments)} exited with {result.ExitCode}: {result.StandardError.Trim()} {result.StandardOutput.Trim()}");
        }

        return result;
    }

    private static string Describe(string fileName, IReadOnlyList<string> arguments) =>
        $"'{fileName} {string.Join(' ', arguments.Select(a => a.Length == 0 ? "''" : a))}'";

    /// <summary>
    /// Starts a long-running child (sshd, the client) with stdin closed, its stdout and stderr
    /// appended to <paramref name="output"/> (lock it to read).
    /// </summary>
    public static Process StartCapturing(ProcessStartInfo info, StringBuilder output)
    {
        info.UseShellExecute = false;
        info.RedirectStandardInput = true;
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        var process = new Process { StartInfo = info };
        DataReceivedEventHandler capture = (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (output)
                {
                    output.AppendLine(e.Data);
                }
            }
        };
        process.OutputDataReceived += capture;
        process.ErrorDataReceived += capture;
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>
    /// Kills a process started with <see cref="StartCapturing"/> together with its children (sshd
    /// forks one per connection), waits up to 10 s for it to exit, and disposes it. A process that
    /// has already exited is only disposed.
    /// </summary>
    public static void Stop(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        process.Dispose();
    }
}

/// <summary>What a finished tool left: its exit code and its whole stdout and stderr.</summary>
public sealed record ProcessResult(int ExitCode, string StandardOutput, string StandardError);
