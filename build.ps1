#Requires -Version 7.4
<#
.SYNOPSIS
    Builds and tests the VirtualDevices module: a thin wrapper over dotnet.
.DESCRIPTION
    -Bootstrap installs Pester (pinned, 5.9.1) for the current user from the NuGet registry, which answers where the
               PowerShell Gallery does not. platyPS is not needed: tools/VirtualDevices.HelpGenerator makes the MAML
               help and refreshes the markdown.
    -Build     runs 'dotnet build -c Release', which assembles the module at out/VirtualDevices.
    -Test      runs the xunit suites, then the Pester suite under tests/Pester against out/VirtualDevices
               (-Suite Xunit or -Suite Pester runs one of them).
    -Docs      refreshes the generated parts of docs/VirtualDevices/*.md from the built cmdlets (prose is kept).
    -Clean     removes out/ and every bin/ and obj/ folder.
.EXAMPLE
    ./build.ps1 -Bootstrap -Build -Test
.EXAMPLE
    ./build.ps1 -Build; Import-Module ./out/VirtualDevices; Get-Command -Module VirtualDevices
#>
[CmdletBinding()]
param(
    [switch] $Bootstrap,
    [switch] $Build,
    [switch] $Test,
    [ValidateSet('All', 'Xunit', 'Pester')]
    [string] $Suite = 'All',
    [switch] $Docs,
    [switch] $Clean,
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release'
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = $PSScriptRoot
$module = Join-Path $root 'out/VirtualDevices'
$pesterVersion = '5.9.1'

function Invoke-Native([string] $Command, [string[]] $Arguments) {
    Write-Host "+ $Command $($Arguments -join ' ')"
    & $Command @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$Command exited with $LASTEXITCODE" }
}

if ($Clean) {
    Remove-Item -Recurse -Force -ErrorAction Ignore (Join-Path $root 'out')
    Get-ChildItem $root -Recurse -Directory -Include bin, obj | Remove-Item -Recurse -Force
}

if ($Bootstrap) {
    # The NuGet package Pester carries the module in its tools/ folder: restore it (tools/Bootstrap pins the version)
    # and copy that folder where Install-Module -Scope CurrentUser would have put it.
    if (-not (Get-Module -ListAvailable Pester | Where-Object Version -EQ ([version] $pesterVersion))) {
        Invoke-Native dotnet @('restore', (Join-Path $root 'tools/Bootstrap/Bootstrap.csproj'), '--verbosity', 'quiet')
        $packages = (& dotnet nuget locals global-packages --list) -replace '^global-packages:\s*', ''
        $source = Join-Path $packages.Trim() "pester/$pesterVersion/tools"
        $userModules = $env:PSModulePath -split [IO.Path]::PathSeparator | Where-Object { $_.StartsWith($HOME) } | Select-Object -First 1
        if (-not $userModules) { throw "No folder of `$env:PSModulePath is under $HOME to install Pester into." }
        $destination = Join-Path $userModules "Pester/$pesterVersion"
        New-Item -ItemType Directory -Force -Path $destination | Out-Null
        Copy-Item -Recurse -Force -Path (Join-Path $source '*') -Destination $destination
        Write-Host "Installed Pester $pesterVersion at $destination"
    }
}

if ($Build) {
    Invoke-Native dotnet @('build', (Join-Path $root 'VirtualDevices.sln'), '-c', $Configuration)
}

if ($Docs) {
    $tool = Join-Path $root "tools/VirtualDevices.HelpGenerator/bin/$Configuration/net10.0/VirtualDevices.HelpGenerator.dll"
    Invoke-Native dotnet @($tool, 'markdown', '--assembly', (Join-Path $module 'VirtualDevices.PowerShell.dll'), '--docs', (Join-Path $root 'docs'))
}

if ($Test) {
    if ($Suite -ne 'Pester') {
        # The core suite talks to real Linux peers (nbdkit, qemu-nbd, xenstore-utils...) and checks Linux headers, so
        # elsewhere only the module checks (metadata, manifest, docs) run.
        $target = if ($IsLinux) { Join-Path $root 'VirtualDevices.sln' } else { Join-Path $root 'tests/VirtualDevices.PowerShell.Tests' }
        if (-not $IsLinux) { Write-Host 'Not on Linux: the core suite, which needs Linux peers, is not run.' }
        Invoke-Native dotnet @('test', $target, '-c', $Configuration, '--blame-hang-timeout', '5m')
    }

    if ($Suite -ne 'Xunit') {
        if (-not (Test-Path (Join-Path $module 'VirtualDevices.psd1'))) { throw "Build first: $module is missing." }
        if (-not (Get-Module -ListAvailable Pester | Where-Object Version -ge ([version] '5.5.0'))) {
            throw 'Pester 5.5 or later is needed: run ./build.ps1 -Bootstrap.'
        }
        Import-Module Pester -MinimumVersion 5.5.0
        # Not $configuration: PowerShell names are case-insensitive, so that would be the -Configuration parameter.
        $pesterConfig = New-PesterConfiguration
        $pesterConfig.Run.Path = Join-Path $root 'tests/Pester'
        $pesterConfig.Run.Exit = $false
        $pesterConfig.Run.Throw = $true
        $pesterConfig.Output.Verbosity = 'Detailed'
        if ($env:CI) { $pesterConfig.Output.RenderMode = 'Plaintext' }
        # The suites run with PowerShell's default error preference, as users run them: this script's 'Stop' would make
        # every non-terminating error the suites check for terminating. Strict mode stays on: it catches tests that
        # read properties that do not exist and would otherwise pass on $null.
        & {
            $ErrorActionPreference = 'Continue'
            Invoke-Pester -Configuration $pesterConfig
        }
    }
}
