using System.Diagnostics;

namespace ZmqAspire.AppHost.Tests;

/// <summary>Runs the docker CLI to inspect the containers the AppHost started.</summary>
internal static class Docker
{
    public static async Task<string> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo("docker") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"docker {string.Join(' ', args)} failed: {await stderr}");
        }

        return await stdout;
    }
}
