using System.Diagnostics;

namespace ZmqAspire.Soak;

/// <summary>Runs a command-line tool (docker, dotnet) to completion, stdin closed so it never waits on a terminal.</summary>
internal static class Tool
{
    /// <summary>Runs <paramref name="file"/> with <paramref name="args"/> (a list: no shell quoting) and captures its output.</summary>
    /// <param name="file">The program, looked up on PATH.</param>
    /// <param name="args">Its arguments.</param>
    /// <param name="workingDirectory">Where it runs; null for this process's current directory.</param>
    /// <param name="cancellationToken">Stops waiting (the tool is left to finish).</param>
    /// <returns>The exit code, stdout and stderr.</returns>
    public static async Task<(int Code, string StandardOutput, string StandardError)> RunAsync(
        string file, IEnumerable<string> args, string? workingDirectory = null, CancellationToken cancellationToken = default)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        if (workingDirectory is not null)
        {
            start.WorkingDirectory = workingDirectory;
        }

        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        return (process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }
}
