using System.Text;

namespace Aspire.Hosting.ApplicationModel;

/// <summary>
/// What run mode copies into the bastion container at creation, under <c>/etc/zmqaspire</c> (where
/// the image's sshd_config looks): the host key, the consumers' public key, and the per-deployment
/// sshd settings made from the model's annotations. Root-owned; the private host key 0600.
/// </summary>
internal static class SshBastionFiles
{
    public const string Directory = "/etc/zmqaspire";

    private const UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode PublicFile = PrivateFile | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode PublicDirectory = PublicFile | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    /// <summary>
    /// The sshd settings of this deployment (the image's sshd_config includes them): PermitOpen
    /// with every forward target as the bastion reaches it, and the opt-ins.
    /// </summary>
    public static async Task<string> DeploymentConfigAsync(SshBastionResource bastion, CancellationToken cancellationToken)
    {
        var config = new StringBuilder();
        var permitOpen = await PermitOpenAsync(bastion, cancellationToken).ConfigureAwait(false);
        if (permitOpen.Count > 0)
        {
            config.Append("PermitOpen ").AppendJoin(' ', permitOpen).Append('\n');
        }

        if (bastion.Annotations.OfType<SshPasswordLoginAnnotation>().Any())
        {
            // "publickey password" (a space, not a comma): either method alone is enough.
            config.Append("PasswordAuthentication yes\nAuthenticationMethods publickey password\n");
        }

        if (bastion.Annotations.OfType<SshAesCtrCiphersAnnotation>().Any())
        {
            // Same AEAD ciphers first, CTR last; the MACs stay ETM-only (sshd_config).
            config.Append("Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes128-ctr\n");
        }

        var listen = bastion.Annotations.OfType<SshRemoteForwardAnnotation>().Select(a => a.Port).Distinct().Order().ToList();
        if (listen.Count > 0)
        {
            config.Append("AllowTcpForwarding yes\nGatewayPorts clientspecified\nPermitListen ")
                .AppendJoin(' ', listen.Select(p => $"*:{p}")).Append('\n');
        }

        return config.ToString();
    }

    /// <summary>The <c>host:port</c> entries of PermitOpen, sorted, without duplicates.</summary>
    public static async Task<IReadOnlyList<string>> PermitOpenAsync(SshBastionResource bastion, CancellationToken cancellationToken)
    {
        var entries = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var target in bastion.ForwardTargets)
        {
            entries.Add(await target.HostAndPort.GetValueAsync(cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"Forward target '{target}' has no value yet."));
        }

        return [.. entries];
    }

    public static async Task<IEnumerable<ContainerFileSystemItem>> CreateAsync(SshBastionResource bastion, CancellationToken cancellationToken)
    {
        var keys = bastion.GetOrCreateKeys();
        List<ContainerFileSystemItem> files =
        [
            new ContainerDirectory
            {
                Name = "keys",
                Mode = PublicDirectory,
                Entries =
                [
                    new ContainerFile { Name = "ssh_host_ed25519_key", SourcePath = keys.HostPrivateKeyPath, Mode = PrivateFile },
                    new ContainerFile { Name = "ssh_host_ed25519_key.pub", Contents = keys.HostPublicKey + "\n", Mode = PublicFile },
                ],
            },
            new ContainerFile { Name = "authorized_keys", Contents = keys.ClientPublicKey + "\n", Mode = PublicFile },
            new ContainerDirectory
            {
                Name = "sshd_config.d",
                Mode = PublicDirectory,
                Entries = [new ContainerFile { Name = "deployment.conf", Contents = await DeploymentConfigAsync(bastion, cancellationToken).ConfigureAwait(false), Mode = PublicFile }],
            },
        ];
        if (bastion.Annotations.OfType<SshPasswordLoginAnnotation>().LastOrDefault() is { } login)
        {
            // The image's start script feeds it to chpasswd on stdin and deletes it before sshd starts.
            var password = await login.Password.GetValueAsync(cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"Parameter '{login.Password.Name}' (the bastion password) has no value.");
            files.Add(new ContainerDirectory
            {
                Name = "secrets",
                Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute,
                Entries = [new ContainerFile { Name = "tunnel-password", Contents = password, Mode = PrivateFile }],
            });
        }

        return files;
    }
}
