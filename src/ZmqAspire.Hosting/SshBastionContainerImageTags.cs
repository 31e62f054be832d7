namespace Aspire.Hosting.ApplicationModel;

/// <summary>The bastion image: built from the recipe inside this package, on this base image.</summary>
public static class SshBastionContainerImageTags
{
    /// <summary>The name the built image is tagged with.</summary>
    public const string Image = "aspire-ssh-bastion";

    /// <summary>The base image (Debian 12, OpenSSH 9.2 from Debian's archive).</summary>
    public const string BaseImage = "debian";

    /// <summary>The base image's tag.</summary>
    public const string BaseTag = "bookworm-slim";
}
