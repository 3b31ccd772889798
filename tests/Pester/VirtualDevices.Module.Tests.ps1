#Requires -Version 7.4
# Pester 5 tests of the module as a whole: manifest and exports, help, format views, and tab completion of device
# names. Run with: Invoke-Pester ./tests/Pester (after `dotnet build src/VirtualDevices.PowerShell`).

BeforeDiscovery {
    $manifestPath = Join-Path $PSScriptRoot '../../out/VirtualDevices/VirtualDevices.psd1'
    $cmdletCases = @((Import-PowerShellDataFile -Path $manifestPath).CmdletsToExport | ForEach-Object { @{ Name = $_ } })
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Helpers/TestHelpers.ps1')
    $manifestPath = Join-Path $PSScriptRoot '../../out/VirtualDevices/VirtualDevices.psd1'
    $docsPath = Join-Path $PSScriptRoot '../../docs/VirtualDevices'
    Import-Module $manifestPath -Force
    $module = Get-Module -Name VirtualDevices
    $manifest = Import-PowerShellDataFile -Path $manifestPath
    Get-BlockDevice | Close-BlockDevice -Confirm:$false

    # The synopsis written in a cmdlet's platyPS page: the first line after '## SYNOPSIS'. Plain strings from
    # ReadAllLines, not Get-Content's PSObject-wrapped lines, so that IndexOf compares strings; a page without the
    # heading fails here rather than comparing against its first line.
    function Get-DocsSynopsis([string] $Name) {
        [string[]] $lines = [IO.File]::ReadAllLines((Join-Path $docsPath "$Name.md"))
        $index = [Array]::IndexOf($lines, '## SYNOPSIS')
        $index | Should -BeGreaterOrEqual 0 -Because "$Name.md should have a '## SYNOPSIS' heading"
        $lines[$index + 1].Trim()
    }
}

AfterAll {
    Get-BlockDevice | Close-BlockDevice -Confirm:$false
}

Describe 'The module manifest' {
    It 'is valid' {
        { Test-ModuleManifest -Path $manifestPath -ErrorAction Stop } | Should -Not -Throw
    }

    It 'loads the binary module from the module folder' {
        $module.Name | Should -Be 'VirtualDevices'
        $module.Version | Should -Be ([version] $manifest.ModuleVersion)
        $module.ModuleBase | Should -Be (Split-Path -Parent (Resolve-Path -LiteralPath $manifestPath).ProviderPath)
    }

    It 'exports exactly the cmdlets of the manifest' {
        $exported = @($module.ExportedCmdlets.Keys | Sort-Object)
        $expected = @($manifest.CmdletsToExport | Sort-Object)
        $exported -join ',' | Should -Be ($expected -join ',')
    }

    It 'exports no functions, aliases or variables' {
        $module.ExportedFunctions.Count | Should -Be 0
        $module.ExportedAliases.Count | Should -Be 0
        $module.ExportedVariables.Count | Should -Be 0
    }

    It 'makes every exported command a cmdlet of VirtualDevices.PowerShell.dll' {
        foreach ($command in Get-Command -Module VirtualDevices) {
            $command.CommandType.ToString() | Should -Be 'Cmdlet'
            Split-Path -Leaf $command.ImplementingType.Assembly.Location | Should -Be 'VirtualDevices.PowerShell.dll'
        }
        @(Get-Command -Module VirtualDevices).Count | Should -Be @($manifest.CmdletsToExport).Count
    }

    It 'loads the format views of <TypeName>' -ForEach @(
        @{ TypeName = 'VirtualDevices.Block.BlockData' }
        @{ TypeName = 'VirtualDevices.Block.BlockDevice' }
        @{ TypeName = 'VirtualDevices.Block.BlockDeviceDetails' }
        @{ TypeName = 'VirtualDevices.Block.BlockTransferResult' }
        @{ TypeName = 'VirtualDevices.Devices.BlockStatistics' }
        @{ TypeName = 'VirtualDevices.Devices.NetworkStatistics' }
    ) {
        Get-FormatData -TypeName $TypeName | Should -Not -BeNullOrEmpty
    }
}

Describe 'Help' {
    It 'Get-Help shows the synopsis of <Name>' -ForEach $cmdletCases {
        $help = Get-Help -Name $Name -Full
        $help.Name | Should -Be $Name
        "$($help.Synopsis)".Trim() | Should -Be (Get-DocsSynopsis $Name)
    }

    It 'Get-Help shows a description of <Name>' -ForEach $cmdletCases {
        $help = Get-Help -Name $Name -Full
        ($help.description | Out-String).Trim() | Should -Not -BeNullOrEmpty
    }

    It 'Get-Help shows at least two examples of <Name>, each with code and remarks' -ForEach $cmdletCases {
        $examples = @((Get-Help -Name $Name -Examples).examples.example)
        $examples.Count | Should -BeGreaterOrEqual 2
        foreach ($example in $examples) {
            "$($example.code)".Trim() | Should -Not -BeNullOrEmpty
            ($example.remarks | Out-String).Trim() | Should -Not -BeNullOrEmpty
        }
        ($examples.code -join "`n") | Should -Match ([regex]::Escape($Name))
    }

    It 'Get-Help describes every parameter of <Name>' -ForEach $cmdletCases {
        $command = Get-Command -Name $Name
        $common = @([System.Management.Automation.Cmdlet]::CommonParameters) + @([System.Management.Automation.Cmdlet]::OptionalCommonParameters)
        $parameters = $command.Parameters.Keys | Where-Object { $_ -notin $common }
        $help = Get-Help -Name $Name -Full
        foreach ($parameter in $parameters) {
            $entry = $help.parameters.parameter | Where-Object name -EQ $parameter
            $entry | Should -Not -BeNullOrEmpty -Because "-$parameter of $Name should be in the help"
            ($entry.description | Out-String).Trim() | Should -Not -BeNullOrEmpty -Because "-$parameter of $Name should be described"
        }
    }

    It 'has a docs page for <Name>' -ForEach $cmdletCases {
        Join-Path $docsPath "$Name.md" | Should -Exist
    }

    It 'ships the about_VirtualDevices topic' {
        $about = Join-Path $module.ModuleBase 'en-US/about_VirtualDevices.help.txt'
        $about | Should -Exist
        $text = Get-Content -LiteralPath $about -Raw
        $text.Length | Should -BeGreaterThan 1000
        $text | Should -Match 'about_VirtualDevices'
        $text | Should -Match 'BlockOutOfRange'
    }
}

Describe 'Tab completion of device names' {
    BeforeAll {
        New-BlockDevice -Size 64KB -Name mtest1 | Out-Null
        New-BlockDevice -Size 64KB -Name mtest2 | Out-Null
        New-BlockDevice -Size 64KB -Name other | Out-Null
    }

    AfterAll {
        Get-BlockDevice | Close-BlockDevice -Confirm:$false
    }

    It 'completes <Command> -<Parameter> m with the open device names' -ForEach @(
        @{ Command = 'Get-BlockDeviceInfo'; Parameter = 'Device' }
        @{ Command = 'Read-BlockDevice'; Parameter = 'Device' }
        @{ Command = 'Write-BlockDevice'; Parameter = 'Device' }
        @{ Command = 'Close-BlockDevice'; Parameter = 'Device' }
        @{ Command = 'Get-BlockDevice'; Parameter = 'Name' }
        @{ Command = 'Get-DeviceStats'; Parameter = 'Name' }
        @{ Command = 'Get-DeviceStats'; Parameter = 'Device' }
        @{ Command = 'Reset-DeviceStats'; Parameter = 'Name' }
        @{ Command = 'Reset-DeviceStats'; Parameter = 'Device' }
    ) {
        (Get-Completion "$Command -$Parameter m" -Sort) -join ',' | Should -Be 'mtest1,mtest2'
    }

    It 'completes every open device for an empty word' {
        (Get-Completion 'Get-BlockDeviceInfo -Device ' -Sort) -join ',' | Should -Be 'mtest1,mtest2,other'
    }

    It 'completes regardless of case' {
        (Get-Completion 'Close-BlockDevice -Device MTEST' -Sort) -join ',' | Should -Be 'mtest1,mtest2'
    }

    It 'completes a device opened after the others' {
        New-BlockDevice -Size 64KB -Name mlate | Out-Null
        (Get-Completion 'Read-BlockDevice -Device ml' -Sort) -join ',' | Should -Be 'mlate'
    }

    It 'no longer completes a closed device' {
        New-BlockDevice -Size 64KB -Name mgone | Out-Null
        Close-BlockDevice -Device mgone
        $completions = Get-Completion 'Read-BlockDevice -Device m' -Sort
        # Completion still works (else the next line would pass on an empty list), only mgone is gone.
        $completions | Should -Contain 'mtest1'
        $completions | Should -Not -Contain 'mgone'
    }
}
