namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// A temporary HOME (with an empty 0700 <c>.ssh</c>) for this process while the object lives, so
/// that the default-key lookup (<c>~/.ssh/id_*</c>) sees only what a test puts there. Only for
/// tests in the sshd collection, which run one at a time.
/// </summary>
internal sealed class HomeDirectory : IDisposable
{
    private readonly string? _previous = Environment.GetEnvironmentVariable("HOME");

    public HomeDirectory()
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("The tunnelling tests run on Linux (a real sshd).");
        }

        Path = Directory.CreateTempSubdirectory("zmqaspire-home-").FullName;
        SshDirectory = System.IO.Path.Combine(Path, ".ssh");
        Directory.CreateDirectory(SshDirectory);
        File.SetUnixFileMode(SshDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Environment.SetEnvironmentVariable("HOME", Path);
    }

    public string Path { get; }

    public string SshDirectory { get; }

    /// <summary>Copies a private key (and its .pub) to <c>~/.ssh/name</c>, mode 0600.</summary>
    public string AddKey(string name, string privateKeyPath)
    {
        var target = System.IO.Path.Combine(SshDirectory, name);
        File.Copy(privateKeyPath, target);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("The tunnelling tests run on Linux (a real sshd).");
        }

        File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.Copy(privateKeyPath + ".pub", target + ".pub");
        return target;
    }

    public void Dispose()
    {
        Environment.SetEnvironmentVariable("HOME", _previous);
        Directory.Delete(Path, recursive: true);
    }
}
