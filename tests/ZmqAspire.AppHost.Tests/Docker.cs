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

    /// <summary>
    /// <c>docker pause</c>, tried again when the kernel could not freeze the container's cgroup
    /// in time ("unable to freeze"), which happens on a loaded machine: the fault under test is a
    /// frozen container, so the test needs the freeze, not the first attempt.
    /// </summary>
    public static async Task PauseAsync(string container)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await RunAsync("pause", container);
                return;
            }
            catch (InvalidOperationException ex) when (attempt < 5 && ex.Message.Contains("unable to freeze", StringComparison.Ordinal))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200));
            }
        }
    }
}
